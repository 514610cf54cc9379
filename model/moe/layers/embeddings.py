"""DynamicEmbedding: one embedding path per modality into the shared width ``d_model``.

- sensor windows (B, T, C) become channel-aware patch tokens: every channel is cut into patches of
  ``patch_len`` samples, each patch is projected and gets its channel's embedding (an index per
  known channel name, see :mod:`plantpulse.model.moe.channels`) and a time position, so any channel
  set and any window length embed without retraining;
- waveforms — sensors sampled at ``waveform_min_rate_hz`` or faster, when the config enables it —
  become spectral tokens instead (log band power and envelope spectrum, :mod:`.spectral`); the
  choice is made from the batch's sampling rate, never from a dataset name;
- slow sensor windows may also give one summary token per channel (last value, mean, sd, slope;
  ``window_summary_tokens``);
- structured features (B, F) — a table row, summary statistics, hours since maintenance, event
  counts — become one token each with a weight and bias per feature id, appended to the sensor
  slot (numeric data shares that modality's experts and summary tokens);
- images (B, 3, H, W) go through a small conv stem (stride 4) and a patch convolution;
- text goes through an offline hashing tokenizer (no vocabulary file, no download).

Each modality's sequence starts with ``n_global_tokens`` learned summary tokens (the global tokens
of the sparse attention and the inputs of fusion) and every token carries a modality tag.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.registry import Registry
from plantpulse.model.moe.batch import ModelInput
from plantpulse.model.moe.channels import ChannelIndex
from plantpulse.model.moe.config import MODALITIES, ModelConfig
from plantpulse.model.moe.layers.spectral import WaveformSpectralEmbedding, uses_waveform

PAD_ID, MASK_ID, UNK_ID = 0, 1, 2
N_SPECIAL = 3
_WORD = re.compile(r"[a-z0-9]+(?:[/.&'-][a-z0-9]+)*")


def stable_hash(text: str) -> int:
    """A process-independent 63-bit hash (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little") >> 1


def channel_ids(names: Sequence[str], buckets: int) -> Tensor:
    """Hashed channel names -> (C,) int64 ids in ``[0, buckets)``; case and spacing ignored.

    The identity of models without a channel vocabulary (checkpoints from before it); new models
    use :class:`plantpulse.model.moe.channels.ChannelIndex`, which cannot collide on known names."""
    return torch.tensor([stable_hash(" ".join(n.lower().split())) % buckets for n in names],
                        dtype=torch.int64)


SUBWORD_N: tuple[int, ...] = (3, 4, 5)  # character n-gram lengths of a word's sub-word ids
MAX_SUBWORDS = 16  # n-grams kept per word (its start: a truncated word keeps what it has)


class HashingTokenizer:
    """Lower-cases, splits into words (keeping 'r/h', 'o-ring'), hashes words into buckets.

    Ids 0..2 are PAD, MASK and UNK; words map to ``3 + hash % (vocab_size - 3)``. With
    ``subword_buckets`` each word also gets up to :data:`MAX_SUBWORDS` hashed character n-grams
    of ``<word>`` (ids 1..buckets, 0 = none; the sub-word scheme of fastText, Bojanowski et al.,
    2017), so abbreviated, truncated and misspelt words ("thr", "throttle") share parts.
    """

    def __init__(self, vocab_size: int, max_len: int, subword_buckets: int = 0) -> None:
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.subword_buckets = subword_buckets

    @classmethod
    def for_config(cls, cfg: ModelConfig) -> HashingTokenizer:
        """The tokenizer a model was trained with."""
        return cls(cfg.vocab_size, cfg.max_text_len, cfg.text_subword_buckets)

    @staticmethod
    def subword_grams(word: str, limit: int | None = MAX_SUBWORDS) -> list[str]:
        """The character n-grams of ``<word>``, shortest first, the first ``limit`` of them (None: all)."""
        marked = f"<{word}>"
        return [marked[i:i + n] for n in SUBWORD_N for i in range(len(marked) - n + 1)][:limit]

    def subwords(self, word: str) -> list[int]:
        return [1 + stable_hash("#" + g) % self.subword_buckets for g in self.subword_grams(word)]

    def inputs(self, texts: Sequence[str]) -> dict[str, Tensor]:
        """The text fields of :class:`ModelInput`: ``text_ids``, ``text_mask`` and, when the
        tokenizer has sub-words, ``text_subwords`` (B, L, MAX_SUBWORDS)."""
        ids, mask = self.encode(texts)
        fields = {"text_ids": ids, "text_mask": mask}
        if self.subword_buckets:
            grams = np.zeros((len(texts), self.max_len, MAX_SUBWORDS), dtype=np.int64)
            for row, text in enumerate(texts):
                for col, word in enumerate(self.words(text)[: self.max_len]):
                    found = self.subwords(word)
                    grams[row, col, : len(found)] = found
            fields["text_subwords"] = torch.from_numpy(grams)
        return fields

    def words(self, text: str) -> list[str]:
        return _WORD.findall(text.lower())

    def word_id(self, word: str) -> int:
        return N_SPECIAL + stable_hash(word) % (self.vocab_size - N_SPECIAL)

    def encode(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """texts -> ids (B, L) int64 and mask (B, L) bool, L = max_len; long texts keep their start."""
        ids = np.zeros((len(texts), self.max_len), dtype=np.int64)
        for row, text in enumerate(texts):
            tokens = [self.word_id(w) for w in self.words(text)][: self.max_len]
            ids[row, : len(tokens)] = tokens
        ids_t = torch.from_numpy(ids)
        return ids_t, ids_t != PAD_ID


def sinusoid(positions: Tensor, dim: int) -> Tensor:
    """Fixed sin/cos features (..., dim) for integer or float positions (...)."""
    half = dim // 2
    freq = torch.exp(-math.log(10_000.0) * torch.arange(half, device=positions.device) / max(half, 1))
    angles = positions.float().unsqueeze(-1) * freq
    out = torch.cat([angles.sin(), angles.cos()], dim=-1)
    return F.pad(out, (0, dim - 2 * half))


@dataclass(frozen=True, slots=True)
class ContentTokens:
    """A modality's content tokens before summary tokens are prepended.

    values (B, N, d) what the token says; position (B or 1, N, d) where it sits (time, channel,
    pixel row/column) — kept apart so a masked token loses its value but not its place;
    valid (B, N) bool; targets (B, N, P) the raw values each token encodes (sensor patch samples,
    image pixels, or token ids as (B, N, 1)) for masked reconstruction.
    """

    values: Tensor
    position: Tensor
    valid: Tensor
    targets: Tensor


EMBEDDINGS: Registry[type[nn.Module]] = Registry("embedding")


@EMBEDDINGS.register("sensor")
class SensorPatchEmbedding(nn.Module):
    """(B, T, C) windows -> (B, C·P, d) channel-aware patch tokens, P = ceil(T / patch_len)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.patch_len = cfg.patch_len
        self.proj = nn.Linear(cfg.patch_len, cfg.d_model)
        self.channel = nn.Embedding(ChannelIndex(cfg.channel_vocab, cfg.channel_buckets).size, cfg.d_model)

    def forward(self, values: Tensor, channels: Tensor, channel_mask: Tensor | None) -> ContentTokens:
        b, t, c = values.shape
        p = -(-t // self.patch_len)
        # left-pad so that the newest sample closes the last patch
        padded = F.pad(values, (0, 0, p * self.patch_len - t, 0))
        patches = padded.transpose(1, 2).reshape(b, c, p, self.patch_len)  # (B, C, P, patch)
        time = sinusoid(torch.arange(p, device=values.device), self.proj.out_features)
        position = self.channel(channels)[:, :, None, :] + time  # (B, C, P, d)
        valid = torch.ones(b, c, p, dtype=torch.bool, device=values.device)
        if channel_mask is not None:
            valid = valid & channel_mask[:, :, None].to(torch.bool)
        return ContentTokens(self.proj(patches).reshape(b, c * p, -1),
                             position.reshape(b, c * p, -1), valid.reshape(b, c * p),
                             patches.reshape(b, c * p, self.patch_len))


@EMBEDDINGS.register("features")
class FeatureEmbedding(nn.Module):
    """(B, F) structured features -> (B, F, d): token = value · w[id] + b[id] (one weight and one
    bias vector per feature id, as in the feature tokenizer of Gorishniy et al., 2021, "Revisiting
    deep learning models for tabular data"). A shared value projection plus an added channel
    embedding, as for sensor patches, moves every feature along one direction; a weight per
    feature lets thresholds on different features be told apart in the first layer.

    Ids come from the model's channel index, so feature names cannot collide with each other or
    with sensor channels. ``b[id]`` is the token's place (kept when the value is masked).

    With ``feature_frequencies`` k > 0 the value part is periodic instead (the PLR embedding of
    Gorishniy et al., 2022, "On embeddings for numerical features in tabular deep learning"):
    ReLU(W[id] · [sin 2πc·x, cos 2πc·x] + a[id]) with k learned frequencies c per feature. A
    linear token can only say "more" or "less" of a feature; the periodic one can single out a
    band of values (a torque range, an age past which a part fails), and it stays bounded when a
    value lies far outside the training range."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        size, d = ChannelIndex(cfg.channel_vocab, cfg.channel_buckets).size, cfg.d_model
        self.frequencies = cfg.feature_frequencies
        if not self.frequencies:  # (this order of draws keeps linear models as they were trained)
            self.weight = nn.Embedding(size, d)
            self.bias = nn.Embedding(size, d)
            nn.init.normal_(self.weight.weight, std=1.0 / math.sqrt(d))
            nn.init.normal_(self.bias.weight, std=1.0 / math.sqrt(d))
            return
        k = self.frequencies
        self.bias = nn.Embedding(size, d)
        self.frequency = nn.Embedding(size, k)
        self.project = nn.Embedding(size, 2 * k * d)
        self.project_bias = nn.Embedding(size, d)
        nn.init.normal_(self.bias.weight, std=1.0 / math.sqrt(d))
        nn.init.normal_(self.frequency.weight, std=cfg.feature_frequency_scale)
        nn.init.normal_(self.project.weight, std=1.0 / math.sqrt(2 * k))
        nn.init.zeros_(self.project_bias.weight)

    def forward(self, values: Tensor, ids: Tensor) -> ContentTokens:
        valid = torch.ones(values.shape, dtype=torch.bool, device=values.device)
        return ContentTokens(self.encode(values, ids), self.bias(ids), valid, values.unsqueeze(-1))

    def encode(self, values: Tensor, ids: Tensor) -> Tensor:
        """(B, F) values and ids -> (B, F, d) value parts of the tokens."""
        if not self.frequencies:
            return values.unsqueeze(-1) * self.weight(ids)
        angle = 2 * math.pi * values.unsqueeze(-1) * self.frequency(ids)  # (B, F, k)
        periodic = torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)
        weight = self.project(ids).view(*ids.shape, 2 * self.frequencies, -1)
        return torch.relu(torch.einsum("bfk,bfkd->bfd", periodic, weight) + self.project_bias(ids))


SUMMARY_STATS: tuple[str, ...] = ("last", "mean", "sd", "slope")


def window_statistics(values: Tensor) -> Tensor:
    """(B, T, C) -> (B, C, 4): last value, mean, sd and slope (least squares, as the change over
    the whole window) per channel."""
    t = values.shape[1]
    time = torch.linspace(-0.5, 0.5, t, device=values.device, dtype=values.dtype) if t > 1 else \
        torch.zeros(1, device=values.device, dtype=values.dtype)
    mean = values.mean(1)
    centred = values - mean[:, None]
    slope = (centred * time[None, :, None]).sum(1) / time.pow(2).sum().clamp_min(1e-12)
    return torch.stack([values[:, -1], mean, centred.pow(2).mean(1).sqrt(), slope], dim=-1)


@EMBEDDINGS.register("summary")
class WindowSummaryEmbedding(nn.Module):
    """(B, T, C) slow sensor windows -> (B, C, d): one token per channel, Σ_k stat_k · W[id, k] +
    b[id] over the window's last value, mean, sd and slope — the quantities the gradient-boosting
    baselines read — so the network need not rebuild them from patches. Ids are the channel ids."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        size, d = ChannelIndex(cfg.channel_vocab, cfg.channel_buckets).size, cfg.d_model
        self.weight = nn.Embedding(size, len(SUMMARY_STATS) * d)
        self.bias = nn.Embedding(size, d)
        nn.init.normal_(self.weight.weight, std=1.0 / math.sqrt(d * len(SUMMARY_STATS)))
        nn.init.normal_(self.bias.weight, std=1.0 / math.sqrt(d))

    def forward(self, values: Tensor, channels: Tensor, channel_mask: Tensor | None) -> ContentTokens:
        b, _, c = values.shape
        stats = window_statistics(values)  # (B, C, 4)
        weight = self.weight(channels).view(b, c, len(SUMMARY_STATS), -1)
        tokens = torch.einsum("bck,bckd->bcd", stats, weight)
        valid = torch.ones(b, c, dtype=torch.bool, device=values.device)
        if channel_mask is not None:
            valid = valid & channel_mask.to(torch.bool)
        return ContentTokens(tokens, self.bias(channels), valid, stats)


def _joined(first: ContentTokens, second: ContentTokens) -> ContentTokens:
    """Two token runs of one modality side by side; reconstruction targets zero-padded to the
    wider one (only the first run's tokens are ever hidden for reconstruction)."""
    width = max(first.targets.shape[-1], second.targets.shape[-1])
    b = first.values.shape[0]

    def pad(t: Tensor) -> Tensor:
        return F.pad(t, (0, width - t.shape[-1]))

    return ContentTokens(torch.cat([first.values, second.values], 1),
                         torch.cat([first.position.expand(b, -1, -1), second.position.expand(b, -1, -1)], 1),
                         torch.cat([first.valid, second.valid], 1),
                         torch.cat([pad(first.targets), pad(second.targets)], 1))


PIXEL_MEAN, PIXEL_STD = 0.5, 0.25  # pixels in [0, 1] -> roughly zero mean, unit spread


@EMBEDDINGS.register("image")
class ImagePatchEmbedding(nn.Module):
    """(B, C, H, W) -> (B, (H/p)·(W/p), d) via a conv stem (two stride-2 convs) and a patch conv."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d, self.patch = cfg.d_model, cfg.image_patch
        c1, c2 = max(d // 4, 8), max(d // 2, 8)
        self.stem = nn.Sequential(
            nn.Conv2d(cfg.image_channels, c1, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(c2, d, cfg.image_patch // 4, stride=cfg.image_patch // 4),
        )
        # Without it the stem's output varies by ~0.02 between photos against position codes of
        # ~0.6, and a small model learns a constant (measured on the weld photos).
        self.norm = nn.LayerNorm(d) if cfg.image_norm else None

    def forward(self, images: Tensor) -> ContentTokens:
        b, c, h, w = images.shape
        x = (images - PIXEL_MEAN) / PIXEL_STD if self.norm is not None else images
        grid = self.stem(x)  # (B, d, H/p, W/p)
        gh, gw = grid.shape[-2:]
        ys, xs = torch.meshgrid(torch.arange(gh, device=images.device),
                                torch.arange(gw, device=images.device), indexing="ij")
        d = grid.shape[1]
        pos = torch.cat([sinusoid(ys.flatten(), d // 2), sinusoid(xs.flatten(), d - d // 2)], -1)
        pixels = F.unfold(images[..., : gh * self.patch, : gw * self.patch], self.patch,
                          stride=self.patch).transpose(1, 2)  # (B, N, C·p·p)
        valid = torch.ones(b, gh * gw, dtype=torch.bool, device=images.device)
        values = grid.flatten(2).transpose(1, 2)
        values = self.norm(values) if self.norm is not None else values
        return ContentTokens(values, pos.unsqueeze(0), valid, pixels)


@EMBEDDINGS.register("text")
class TextEmbedding(nn.Module):
    """(B, L) hashed token ids -> (B, L, d) with sinusoidal positions; PAD tokens are invalid."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=PAD_ID)
        buckets = cfg.text_subword_buckets
        self.subword = nn.Embedding(buckets + 1, cfg.d_model, padding_idx=0) if buckets else None

    def forward(self, ids: Tensor, mask: Tensor, subwords: Tensor | None = None) -> ContentTokens:
        """A word token = its word embedding + the mean of its sub-word embeddings (if the model
        has sub-words)."""
        pos = sinusoid(torch.arange(ids.shape[1], device=ids.device), self.embed.embedding_dim)
        values = self.embed(ids)
        if self.subword is not None:
            if subwords is None:
                raise InputDataError("this model reads sub-word ids beside the word ids; build the text "
                                     "inputs with HashingTokenizer.for_config(model.cfg).inputs(texts).")
            count = (subwords > 0).sum(-1, keepdim=True).clamp_min(1).to(values.dtype)
            values = values + self.subword(subwords).sum(-2) / count
        return ContentTokens(values, pos.unsqueeze(0), mask.to(torch.bool), ids.unsqueeze(-1))


EMBEDDINGS.add("waveform", WaveformSpectralEmbedding)


@dataclass(frozen=True, slots=True)
class ModalityTokens:
    """One modality's sequence: ``n_global`` summary tokens then content tokens.

    tokens (B, G+N, d); valid (B, G+N) bool (all False for samples without the modality);
    present (B,) bool; targets (B, N, P) reconstruction targets of the content tokens;
    masked (B, N) bool: content tokens replaced by the mask embedding (pre-training), else None;
    path: the registered embedding that made the content tokens ("sensor", "waveform", …).
    """

    modality: str
    tokens: Tensor
    valid: Tensor
    present: Tensor
    n_global: int
    targets: Tensor
    masked: Tensor | None = None
    path: str = ""


class DynamicEmbedding(nn.Module):
    """Embeds whichever modalities a batch carries; see the module docstring."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_global = cfg.n_global_tokens
        names = [*MODALITIES, *(["waveform"] if cfg.waveform_bands else []),
                 *(["features"] if cfg.feature_tokens else []),
                 *(["summary"] if cfg.window_summary_tokens else [])]
        self.paths = nn.ModuleDict({m: EMBEDDINGS.get(m)(cfg) for m in names})
        self.tag = nn.Embedding(len(MODALITIES), cfg.d_model)
        self.summary = nn.Parameter(torch.randn(len(MODALITIES), cfg.n_global_tokens, cfg.d_model) * 0.02)
        self.mask_token = nn.Parameter(torch.randn(cfg.d_model) * 0.02)
        self.norm = nn.LayerNorm(cfg.d_model)

    def path_of(self, batch: ModelInput, modality: str) -> str:
        """The registered embedding for ``modality`` of ``batch`` (chosen by the sampling rate;
        "features" for a sensor slot that holds structured features only)."""
        if modality == "sensor" and batch.sensor is None:
            return "features"
        if modality == "sensor" and uses_waveform(self.cfg, batch.sensor_rate_hz):
            return "waveform"
        return modality

    def content(self, batch: ModelInput, modality: str, hiding: bool = False) -> ContentTokens:
        if modality == "sensor":
            return self.numeric(batch, hiding)
        path = self.paths[modality]
        if modality == "image":
            return path(batch.image)
        return path(batch.text_ids, batch.text_mask, batch.text_subwords)

    def numeric(self, batch: ModelInput, hiding: bool = False) -> ContentTokens:
        """The sensor slot: window tokens (patches or spectra), the window summary tokens (slow
        sensors, when the config has them; left out while tokens are hidden for reconstruction,
        since they would give the hidden values away), then one token per feature."""
        found = None
        if batch.sensor is not None:
            name = self.path_of(batch, "sensor")
            values, channels, mask = self.sensor_in_index_order(batch)
            found = (self.paths[name](values, channels, mask, batch.sensor_rate_hz) if name == "waveform"
                     else self.paths[name](values, channels, mask))
            if name == "sensor" and "summary" in self.paths and not hiding:
                found = _joined(found, self.paths["summary"](values, channels, mask))
        if batch.features is not None:
            if "features" not in self.paths:
                raise InputDataError("this model was trained without structured feature tokens "
                                     "(feature_tokens is off in its config); give it the inputs it "
                                     "was trained on, or retrain with features.")
            assert batch.feature_ids is not None  # checked by ModelInput.validate
            tokens = self.paths["features"](batch.features, batch.feature_ids)
            found = tokens if found is None else _joined(found, tokens)
        assert found is not None, "the sensor slot is embedded only when it holds data"
        return found

    def sensor_in_index_order(self, batch: ModelInput) -> tuple[Tensor, Tensor, Tensor | None]:
        """Sensor values, channel ids and mask with channels sorted by id, per sample.

        Local attention sees channel-major tokens, so the order of channels would change the
        output; with a channel vocabulary the ids are the training order, so sorting by id makes
        any given order score like the trained one. Models without a vocabulary keep the order
        given (as they were trained)."""
        values, channels, mask = batch.sensor, batch.sensor_channels, batch.sensor_channel_mask
        if not self.cfg.channel_vocab:
            return values, channels, mask
        order = channels.argsort(dim=1, stable=True)  # (B, C)
        values = values.gather(2, order[:, None, :].expand(-1, values.shape[1], -1))
        mask = None if mask is None else mask.gather(1, order)
        return values, channels.gather(1, order), mask

    def forward(self, batch: ModelInput, token_masks: dict[str, Tensor] | None = None
                ) -> dict[str, ModalityTokens]:
        """Embed every modality of ``batch``; ``token_masks[m]`` (B, N) marks tokens to hide."""
        out = {}
        for modality in batch.modalities:
            out[modality] = self._one(batch, modality, (token_masks or {}).get(modality))
        return out

    def _one(self, batch: ModelInput, modality: str, hide: Tensor | None) -> ModalityTokens:
        index = MODALITIES.index(modality)
        content = self.content(batch, modality, hiding=hide is not None)
        tokens = content.values
        if hide is not None and hide.shape[1] < tokens.shape[1]:  # features are never hidden
            hide = F.pad(hide, (0, tokens.shape[1] - hide.shape[1]), value=False)
        if hide is not None:
            tokens = torch.where(hide.unsqueeze(-1), self.mask_token.to(tokens.dtype), tokens)
        tokens = tokens + content.position
        b = tokens.shape[0]
        summary = self.summary[index].unsqueeze(0).expand(b, -1, -1).to(tokens.dtype)
        tokens = torch.cat([summary, tokens], dim=1) + self.tag.weight[index]
        present = batch.present(modality)
        head = torch.ones(b, self.n_global, dtype=torch.bool, device=tokens.device)
        valid = torch.cat([head, content.valid], dim=1) & present[:, None]
        return ModalityTokens(modality, self.norm(tokens), valid, present, self.n_global,
                              content.targets, hide, self.path_of(batch, modality))
