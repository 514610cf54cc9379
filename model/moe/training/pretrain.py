"""Stage 1 — self-supervised pre-training.

Objectives, on whichever modalities a batch carries:
- masked patch reconstruction for sensors (predict the hidden patch's samples) and images
  (predict the hidden patch's pixels), MSE on the masked tokens only;
- masked token prediction for text (cross-entropy over the hashing vocabulary);
- cross-modal InfoNCE where samples pair two modalities (e.g. an Azure PdM telemetry window and
  the same machine's error/maintenance log text over that window): matching pairs are pulled
  together, the other samples of the batch act as negatives.
Plus the MoE balance loss. The reconstruction and projection heads are training-only.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from plantpulse.model.moe.batch import ModelInput
from plantpulse.model.moe.config import ModelConfig
from plantpulse.model.moe.layers.spectral import tokens_per_channel, uses_waveform
from plantpulse.model.moe.losses import info_nce, masked_mse, masked_token_ce
from plantpulse.model.moe.network import ModelOutput, PlantPulseModel
from plantpulse.model.moe.training.data import Batcher, TaskData, cycle_batches
from plantpulse.model.moe.training.distributed import (
    data_seed,
    is_main_process,
    mean_over_ranks,
    rank_seed,
    sync_parameters,
)
from plantpulse.model.moe.training.runtime import (
    EpochCallback,
    StageOptions,
    StageState,
    autocast,
    clip_and_step,
    epoch_steps,
    make_optimizer,
    set_lr,
    update_router_biases,
)


class PretrainHeads(nn.Module):
    """Reconstruction heads per modality and contrastive projections (not part of the model)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.sensor = nn.Linear(d, cfg.patch_len)
        self.waveform = nn.Linear(d, cfg.waveform_band_group) if cfg.waveform_bands else None
        self.image = nn.Linear(d, cfg.image_channels * cfg.image_patch**2)
        self.text = nn.Linear(d, cfg.vocab_size)
        self.project = nn.ModuleDict({m: nn.Linear(d, d) for m in ("sensor", "image", "text")})


def content_lengths(batch: ModelInput, cfg: ModelConfig) -> dict[str, tuple[int, int]]:
    """(B, N) content-token counts per modality, before embedding."""
    out = {}
    if batch.sensor is not None:
        b, t, c = batch.sensor.shape
        per_channel = tokens_per_channel(cfg) if uses_waveform(cfg, batch.sensor_rate_hz) else -(-t // cfg.patch_len)
        out["sensor"] = (b, c * per_channel)
    if batch.image is not None:
        b, _, h, w = batch.image.shape
        out["image"] = (b, (h // cfg.image_patch) * (w // cfg.image_patch))
    if batch.text_ids is not None:
        out["text"] = tuple(batch.text_ids.shape)
    return out


def random_token_masks(batch: ModelInput, cfg: ModelConfig, ratio: float,
                       generator: torch.Generator) -> dict[str, Tensor]:
    """(B, N) bool per modality: which content tokens to hide (never padding)."""
    masks = {}
    for modality, (b, n) in content_lengths(batch, cfg).items():
        hide = torch.rand(b, n, generator=generator) < ratio
        if modality == "text":
            hide &= batch.text_mask.cpu()
        elif modality == "sensor" and batch.sensor_channel_mask is not None:
            per_patch = n // batch.sensor.shape[2]
            hide &= batch.sensor_channel_mask.cpu().repeat_interleave(per_patch, dim=1)
        masks[modality] = hide.to(batch.present(modality).device)
    return masks


def pretrain_loss(model: PlantPulseModel, heads: PretrainHeads, batch: ModelInput,
                  out: ModelOutput, contrastive_weight: float) -> tuple[Tensor, dict[str, float]]:
    g = model.cfg.n_global_tokens
    losses: dict[str, Tensor] = {}
    for modality, tokens in out.embedded.items():
        if tokens.masked is None:
            continue
        hidden = out.encoded.seqs[modality][:, g:]
        hide = tokens.masked & tokens.present[:, None]
        if modality == "text":
            losses["text"] = masked_token_ce(heads.text(hidden), tokens.targets[..., 0], hide)
        else:
            pred = getattr(heads, tokens.path or modality)(hidden)
            losses[modality] = masked_mse(pred, tokens.targets.to(pred.dtype), hide)
    pairs = [m for m in out.embedded]
    if contrastive_weight > 0 and len(pairs) >= 2:
        a, b = pairs[0], pairs[1]
        both = out.embedded[a].present & out.embedded[b].present
        if int(both.sum()) >= 2:
            za = heads.project[a](out.encoded.seqs[a][both, 0])
            zb = heads.project[b](out.encoded.seqs[b][both, 0])
            losses["infonce"] = contrastive_weight * info_nce(za, zb)
    total = sum(losses.values(), out.aux_loss)
    return total, {k: float(v.detach()) for k, v in losses.items()}


def run_pretrain(model: PlantPulseModel, datasets: list[TaskData], opts: StageOptions,
                 batcher: Batcher, state: StageState | None = None,
                 on_epoch: EpochCallback | None = None) -> StageState:
    """Pre-train ``model`` on ``datasets`` (round-robin, one batch per step); resumable."""
    state = state or StageState(stage="pretrain")
    heads = PretrainHeads(model.cfg).to(batcher.device)
    params = list(model.parameters()) + list(heads.parameters())
    optimizer = make_optimizer([model, heads], opts)
    steps = epoch_steps(opts, [len(d) for d in datasets], opts.batch_size)
    if state.optimizer:
        optimizer.load_state_dict(state.optimizer)
        heads.load_state_dict(state.extra["heads"])
    sync_parameters(model, heads)
    generator = torch.Generator().manual_seed(rank_seed(opts.seed))
    model.train()
    while state.epoch < opts.epochs and not state.done:
        rng = np.random.default_rng(data_seed(opts.seed, state.epoch))
        streams = [cycle_batches(d, opts.batch_size, rng) for d in datasets]
        totals: dict[str, float] = {}
        bar = tqdm(range(steps), desc=f"pretrain {state.epoch + 1}/{opts.epochs}",
                   disable=not (opts.show_progress and is_main_process()), leave=False)
        for step in bar:
            set_lr(optimizer, state.epoch * steps + step, opts.epochs * steps, opts)
            index = step % len(datasets)
            batch = batcher.inputs(datasets[index], next(streams[index]))
            masks = random_token_masks(batch, model.cfg, opts.mask_ratio, generator)
            with autocast(batcher.device):
                out = model(batch, tasks=(), token_masks=masks)
                loss, parts = pretrain_loss(model, heads, batch, out, opts.contrastive_weight)
            loss.backward()
            clip_and_step(optimizer, params, opts.grad_clip)
            update_router_biases(model)
            for key, value in {"loss": float(loss.detach()), **parts}.items():
                totals[key] = totals.get(key, 0.0) + value / steps
            bar.set_postfix(loss=f"{totals['loss']:.3f}")
        totals = mean_over_ranks(totals)  # the same early-stopping decision on every rank
        state.optimizer = optimizer.state_dict()
        state.extra = {"heads": heads.state_dict()}
        improved = state.record(totals.get("loss", 0.0), opts.patience, totals)
        if on_epoch is not None:
            on_epoch(state, improved)
    return state
