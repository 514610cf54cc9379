"""Task heads and the TaskAdaptiveDecoder (adapter + head per task on the fused representation).

Head kinds (the ``HEADS`` registry): ``classification`` (fault class per asset type, weld class),
``multilabel`` (e.g. which component fails within 24 h), ``rul`` (a Normal distribution over the
remaining useful life, so intervals and a survival curve follow) and ``anomaly`` (a Deep-SVDD
distance to a fixed centre, calibrated to a score in [0, 1)).
Adding a task = ``decoder.add_task(spec)``: one adapter and one head; nothing else changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from plantpulse.data.core.registry import Registry
from plantpulse.model.moe.config import ModelConfig, TaskSpec
from plantpulse.model.moe.layers.adapters import ADAPTERS
from plantpulse.model.moe.layers.embeddings import stable_hash

_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True, slots=True)
class ClassOutput:
    """logits (B, K); ``probs`` are softmax (classification) or sigmoid (multilabel) values."""

    logits: Tensor
    multilabel: bool = False

    @property
    def probs(self) -> Tensor:
        return torch.sigmoid(self.logits) if self.multilabel else self.logits.softmax(-1)

    def tensors(self) -> tuple[Tensor, ...]:
        return (self.logits,)


@dataclass(frozen=True, slots=True)
class RULDistribution:
    """RUL ~ Normal(mean, std) in cycles, mean/std (B,); quantiles are clipped at 0."""

    mean: Tensor
    std: Tensor

    def quantile(self, p: float) -> Tensor:
        z = _SQRT2 * torch.erfinv(torch.tensor(2 * p - 1, dtype=self.mean.dtype))
        return (self.mean + self.std * z).clamp_min(0.0)

    def interval(self, level: float = 0.8) -> tuple[Tensor, Tensor]:
        """Central ``level`` interval (lower (B,), upper (B,))."""
        return self.quantile((1 - level) / 2), self.quantile((1 + level) / 2)

    def survival(self, t: Tensor) -> Tensor:
        """P(RUL > t) for horizons t (T,) -> (B, T)."""
        z = (t[None, :] - self.mean[:, None]) / self.std[:, None]
        return 0.5 * torch.erfc(z / _SQRT2)

    def tensors(self) -> tuple[Tensor, ...]:
        return (self.mean, self.std)


@dataclass(frozen=True, slots=True)
class AnomalyOutput:
    """distance (B,) squared distance to the normal centre; score (B,) = d / (d + radius)."""

    distance: Tensor
    score: Tensor

    def tensors(self) -> tuple[Tensor, ...]:
        return (self.distance,)


HeadOutput = ClassOutput | RULDistribution | AnomalyOutput
HEADS: Registry[type[nn.Module]] = Registry("task head")


@HEADS.register("classification")
class ClassificationHead(nn.Module):
    multilabel = False

    def __init__(self, d_model: int, spec: TaskSpec) -> None:
        super().__init__()
        self.fc = nn.Linear(d_model, len(spec.classes))

    def forward(self, h: Tensor) -> ClassOutput:
        return ClassOutput(self.fc(h), self.multilabel)


@HEADS.register("multilabel")
class MultilabelHead(ClassificationHead):
    multilabel = True


@HEADS.register("rul")
class RULHead(nn.Module):
    """(B, d) -> Normal(mean, std) on the 0..rul_cap scale (learned in units of rul_cap)."""

    def __init__(self, d_model: int, spec: TaskSpec) -> None:
        super().__init__()
        self.cap = spec.rul_cap
        self.fc = nn.Linear(d_model, 2)
        nn.init.constant_(self.fc.bias, 0.5)

    def forward(self, h: Tensor) -> RULDistribution:
        raw = self.fc(h)
        mean = raw[:, 0] * self.cap
        std = (nn.functional.softplus(raw[:, 1] - 2.0) + 1e-3) * self.cap
        return RULDistribution(mean, std)


@HEADS.register("anomaly")
class AnomalyHead(nn.Module):
    """Deep SVDD: bias-free projection, fixed random centre (no collapse to a learned centre);
    ``radius`` is set after training to a high quantile of normal distances."""

    # buffers (registered in __init__), declared so they type as tensors rather than Tensor | Module
    center: Tensor
    radius: Tensor

    def __init__(self, d_model: int, spec: TaskSpec, dim: int = 32) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, dim, bias=False)
        generator = torch.Generator().manual_seed(stable_hash(spec.name) % 2**31)  # per task
        self.register_buffer("center", torch.randn(dim, generator=generator) / dim**0.5)
        self.register_buffer("radius", torch.ones(()))

    def forward(self, h: Tensor) -> AnomalyOutput:
        distance = (self.proj(h) - self.center).pow(2).sum(-1)
        return AnomalyOutput(distance, distance / (distance + self.radius))

    @torch.no_grad()
    def fit_radius(self, normal_distances: Tensor, quantile: float = 0.95) -> None:
        self.radius.fill_(float(torch.quantile(normal_distances.float(), quantile).clamp_min(1e-6)))


class TaskAdaptiveDecoder(nn.Module):
    """One adapter and one head per task, keyed by task name."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.d_model, self.adapter_kind, self.adapter_dim = cfg.d_model, cfg.adapter, cfg.adapter_dim
        self.adapters = nn.ModuleDict()
        self.heads = nn.ModuleDict()
        self.specs: dict[str, TaskSpec] = {}
        for spec in cfg.tasks:
            self.add_task(spec)

    def add_task(self, spec: TaskSpec) -> None:
        if spec.name in self.specs:
            raise ValueError(f"task '{spec.name}' already has an adapter; pick another name.")
        self.adapters[spec.name] = ADAPTERS.get(self.adapter_kind)(self.d_model, self.adapter_dim)
        self.heads[spec.name] = HEADS.get(spec.kind)(self.d_model, spec)
        self.specs[spec.name] = spec

    def forward(self, pooled: Tensor, tasks: tuple[str, ...] | None = None) -> dict[str, HeadOutput]:
        names = tuple(self.specs) if tasks is None else tasks
        return {name: self.heads[name](self.adapters[name](pooled)) for name in names}
