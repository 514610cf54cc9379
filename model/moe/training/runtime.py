"""Shared machinery of the training stages: seeds, device, autocast, early stopping, state."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from plantpulse.model.moe.training.distributed import average_gradients, sum_router_loads


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, numpy and torch; ``deterministic`` also forces deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@contextlib.contextmanager
def autocast(device: torch.device) -> Iterator[None]:
    """bf16 autocast on a GPU; plain fp32 on the CPU (CPU autocast gives no speed-up here)."""
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        with torch.autocast("cuda", dtype=dtype):
            yield
    else:
        yield


class StageOptions(BaseModel):
    """Knobs shared by the three stages (frozen; unknown keys rejected)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(1, ge=0)
    steps_per_epoch: int = Field(50, ge=1, description="optimiser steps per epoch")
    batch_size: int = Field(32, ge=2)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    seed: int = 0
    patience: int = Field(3, ge=1, description="early stopping: epochs without improvement")
    val_batches: int = Field(20, ge=1, description="validation batches per task per epoch")
    device: str = "auto"
    show_progress: bool = True
    # stage 1
    mask_ratio: float = Field(0.4, gt=0, lt=1)
    contrastive_weight: float = Field(0.5, ge=0)
    # stage 2
    pcgrad: bool = True
    uncertainty_weighting: bool = False
    # stage 3
    distill_alpha: float = Field(0.5, ge=0, le=1, description="weight of the ground-truth loss")
    temperature: float = Field(2.0, gt=0)


@dataclass
class StageState:
    """Everything needed to resume a stage after epoch ``epoch`` (tensors and plain values)."""

    stage: str
    epoch: int = 0
    best_score: float = float("inf")
    bad_epochs: int = 0
    optimizer: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    done: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(stage=self.stage, epoch=self.epoch, best_score=self.best_score,
                    bad_epochs=self.bad_epochs, optimizer=self.optimizer, extra=self.extra,
                    history=self.history, done=self.done)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StageState:
        return cls(**values)

    def record(self, score: float, patience: int, metrics: dict[str, float]) -> bool:
        """Log an epoch's validation score; True when it is the best so far."""
        self.epoch += 1
        self.history.append({"epoch": float(self.epoch), "score": score, **metrics})
        if score < self.best_score - 1e-9:
            self.best_score, self.bad_epochs = score, 0
            return True
        self.bad_epochs += 1
        if self.bad_epochs >= patience:
            self.done = True
        return False


EpochCallback = Callable[[StageState, bool], None]
"""Called after each epoch with the state and whether the model improved (to checkpoint it)."""


def make_optimizer(params: list[torch.nn.Parameter], opts: StageOptions) -> torch.optim.Optimizer:
    return torch.optim.AdamW([p for p in params if p.requires_grad], lr=opts.lr,
                             weight_decay=opts.weight_decay)


def clip_and_step(optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter],
                  max_norm: float) -> float:
    """One optimiser step; under DDP the gradients are first averaged over the ranks (before
    clipping, so the clipped norm is that of the global batch's gradient)."""
    average_gradients(params)
    norm = torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], max_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(norm)


def update_router_biases(model: torch.nn.Module) -> None:
    """The MoE bias-balancing step after an optimiser step, on the loads of all ranks."""
    sum_router_loads(model)
    model.update_router_biases()  # type: ignore[operator]
