"""The plain-network baseline: a small CNN per modality, concatenated, with the MoE's own heads.

:class:`PlainNet` takes the same :class:`~plantpulse.model.moe.batch.ModelInput` batches as the MoE
and answers with the same head outputs (class logits or a Normal RUL distribution), so it trains
through the project's stage-2 loop (:func:`plantpulse.model.moe.training.run_finetune`: AdamW,
early stopping on the validation split, best weights restored) and is scored by the same code.
No mixture of experts, no attention, no pre-training — the "is the MoE worth it" reference.
Its size is kept close to the distilled student's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from plantpulse.data.core.errors import CheckpointError
from plantpulse.model.moe.batch import ModelInput
from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.layers.heads import HEADS, HeadOutput
from plantpulse.pipelines.evaluate.records import RETRAIN_HINT, trained_on_other_data


@dataclass(frozen=True)
class PlainOutput:
    """Mirrors the fields of the MoE's ModelOutput that the training loop reads."""

    tasks: dict[str, HeadOutput]
    aux_loss: Tensor = field(default_factory=lambda: torch.zeros(()))


def _block1d(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(c_in, c_out, kernel, stride, padding=kernel // 2),
                         nn.BatchNorm1d(c_out), nn.ReLU())


class SensorBranch(nn.Module):
    """(B, T, C) -> (B, 2w): a wide first kernel, then conv + max-pool stages until about 16 time
    steps remain; the output concatenates the average over time and the last step (trends)."""

    def __init__(self, channels: int, length: int, width: int) -> None:
        super().__init__()
        stride = 4 if length >= 256 else 1
        layers: list[nn.Module] = [_block1d(channels, width, 15 if length >= 64 else 3, stride)]
        t = math.ceil(length / stride)
        while t > 16:
            layers += [_block1d(width, width, 3), nn.MaxPool1d(2)]
            t //= 2
        layers.append(_block1d(width, width, 3))
        self.net = nn.Sequential(*layers)
        self.out_dim = 2 * width

    def forward(self, x: Tensor) -> Tensor:
        h = self.net(x.transpose(1, 2))
        return torch.cat([h.mean(-1), h[..., -1]], dim=-1)


class TextBranch(nn.Module):
    """(B, L) hashed token ids -> (B, w + 1): embedding, conv over 3-grams, masked max-pool, plus a
    presence flag (absent text is masked, not read)."""

    def __init__(self, vocab: int, width: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.conv = nn.Conv1d(width, width, 3, padding=1)
        self.out_dim = width + 1

    def forward(self, ids: Tensor, mask: Tensor, present: Tensor) -> Tensor:
        h = torch.relu(self.conv(self.embed(ids).transpose(1, 2))).transpose(1, 2)
        h = h.masked_fill(~mask[..., None].bool(), 0.0).amax(1)
        flag = present.float()[:, None]
        return torch.cat([h * flag, flag], dim=-1)


class ImageBranch(nn.Module):
    """(B, 3, H, W) in 0..1 -> (B, 2w): three stride-2 conv blocks and global average pooling."""

    def __init__(self, width: int) -> None:
        super().__init__()
        chans = (3, width // 2, width, 2 * width)
        self.net = nn.Sequential(*[nn.Sequential(nn.Conv2d(a, b, 3, 2, 1), nn.BatchNorm2d(b), nn.ReLU())
                                   for a, b in zip(chans[:-1], chans[1:], strict=True)])
        self.out_dim = 2 * width

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).mean((2, 3))


class PlainNet(nn.Module):
    """Per-modality CNN branches -> MLP -> the task's head (``HEADS`` registry of the MoE)."""

    def __init__(self, spec: TaskSpec, *, channels: int = 0, length: int = 0, image: bool = False,
                 text_vocab: int = 0, width: int = 32) -> None:
        super().__init__()
        self.spec = spec
        self.hparams = {"channels": channels, "length": length, "image": image,
                        "text_vocab": text_vocab, "width": width}
        self.sensor = SensorBranch(channels, length, width) if channels else None
        self.image = ImageBranch(width) if image else None
        self.text = TextBranch(text_vocab, width) if text_vocab else None
        dims = sum(b.out_dim for b in (self.sensor, self.image, self.text) if b is not None)
        self.trunk = nn.Sequential(nn.Linear(dims, 2 * width), nn.ReLU(), nn.Dropout(0.1))
        self.head = HEADS.get(spec.kind)(2 * width, spec)

    def forward(self, batch: ModelInput, tasks: tuple[str, ...] | None = None) -> PlainOutput:
        parts = []
        if self.sensor is not None:
            parts.append(self.sensor(batch.sensor))
        if self.image is not None:
            parts.append(self.image(batch.image))
        if self.text is not None:
            parts.append(self.text(batch.text_ids, batch.text_mask, batch.present("text")))
        out = self.head(self.trunk(torch.cat(parts, dim=-1)))
        return PlainOutput({self.spec.name: out}, torch.zeros((), device=parts[0].device))

    def update_router_biases(self) -> None:
        """No router: a no-op so the project's training loop can drive this network."""

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def save_plain(net: PlainNet, path: Path, wall_s: float = 0.0, data_fingerprint: str = "") -> Path:
    """safetensors weights + the task spec, sizes, training wall time and the fingerprint of the
    training data as metadata (nothing is pickled)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": "plantpulse-plain-net/1", "spec": net.spec.model_dump_json(),
            "hparams": json.dumps(net.hparams), "wall_s": f"{wall_s:.1f}", "data_fingerprint": data_fingerprint}
    save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(path), metadata=meta)
    return path


def load_plain(path: Path) -> PlainNet:
    """Rebuild a :class:`PlainNet` saved by :func:`save_plain`."""
    return load_plain_timed(path)[0]


def load_plain_timed(path: Path, trained_on: str = "") -> tuple[PlainNet, float]:
    """:func:`load_plain` plus the training wall seconds recorded when it was saved (0 if absent).
    With ``trained_on`` (the fingerprint of the training data the caller would train it on), a
    checkpoint that stores another fingerprint is refused: its test rows may have been training
    rows. One saved without a fingerprint (before they were stored) is not checked."""
    import json

    from safetensors import safe_open

    if not path.is_file():
        raise CheckpointError(f"Plain-network checkpoint {path} is missing; run `plantpulse evaluate` "
                              f"without --from-checkpoint to train it.")
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    if meta.get("format") != "plantpulse-plain-net/1":
        raise CheckpointError(f"{path} is not a plain-network checkpoint (format {meta.get('format')!r}).")
    stored = meta.get("data_fingerprint", "")
    if trained_on and stored and stored != trained_on:
        raise CheckpointError(f"{trained_on_other_data(path, stored, trained_on)} {RETRAIN_HINT}")
    net = PlainNet(TaskSpec.model_validate_json(meta["spec"]), **json.loads(meta["hparams"]))
    net.load_state_dict(load_file(str(path)))
    return net.eval(), float(meta.get("wall_s", 0.0))
