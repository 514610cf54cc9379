"""Per-task adapters on the shared backbone (TaskAdaptiveDecoder's first stage).

An adapter maps the fused (B, d) representation to a task-specific (B, d) one with few
parameters, so a new task or asset type trains only its adapter and head while the backbone
stays frozen. Both kinds start close to the identity (small random up-projection, not zero, so
every parameter receives a gradient from the first step).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from plantpulse.data.core.registry import Registry

ADAPTERS: Registry[type[nn.Module]] = Registry("adapter")


@ADAPTERS.register("bottleneck")
class BottleneckAdapter(nn.Module):
    """h + up(GELU(down(LN(h)))), bottleneck width ``rank`` (Houlsby et al. 2019)."""

    def __init__(self, d_model: int, rank: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.down = nn.Linear(d_model, rank)
        self.up = nn.Linear(rank, d_model)
        nn.init.normal_(self.up.weight, std=1e-3)
        nn.init.zeros_(self.up.bias)

    def forward(self, h: Tensor) -> Tensor:
        return h + self.up(F.gelu(self.down(self.norm(h))))


@ADAPTERS.register("lora")
class LoRAAdapter(nn.Module):
    """h + (α/r)·(LN(h)·A)·B, a low-rank residual update (Hu et al. 2021)."""

    def __init__(self, d_model: int, rank: int, alpha: float = 1.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.A = nn.Parameter(torch.randn(d_model, rank) / d_model**0.5)
        self.B = nn.Parameter(torch.randn(rank, d_model) * 1e-3)
        self.scale = alpha / rank

    def forward(self, h: Tensor) -> Tensor:
        return h + self.scale * (self.norm(h) @ self.A) @ self.B
