"""Shared machinery of the training stages: seeds, device, autocast, early stopping, state."""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

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


SelectBy = Literal["headline", "balanced-nll"]
SELECT_BY: tuple[str, ...] = get_args(SelectBy)


class StageOptions(BaseModel):
    """Knobs shared by the three stages (frozen; unknown keys rejected)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(1, ge=0)
    steps_per_epoch: int | None = Field(None, ge=1, description="optimiser steps per epoch; None: "
                                        "one pass over the tasks' training data (see epoch_steps)")
    batch_size: int = Field(32, ge=2)
    lr: float = Field(1e-3, gt=0, description="peak learning rate (after warm-up)")
    weight_decay: float = Field(0.01, ge=0, description="AdamW decay of weight matrices only")
    warmup_fraction: float = Field(0.05, ge=0, lt=1, description="share of the stage's steps warming up")
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: float = Field(0.05, ge=0, le=1, description="cosine floor as a share of lr")
    grad_clip: float = Field(1.0, gt=0)
    seed: int = 0
    patience: int = Field(3, ge=1, description="early stopping: epochs without improvement")
    val_batches: int = Field(20, ge=1, description="validation batches per task per epoch")
    device: str = "auto"
    show_progress: bool = True
    # stage 1
    mask_ratio: float = Field(0.4, gt=0, lt=1)
    contrastive_weight: float = Field(0.5, ge=0)
    # stage 2 (and 3)
    pcgrad: bool = True
    uncertainty_weighting: bool = False
    task_temperature: float = Field(2.0, ge=1.0, description="task sampling ∝ n_train^(1/T): 1 = by "
                                    "size, large = uniform")
    loss_norm: bool = Field(True, description="divide each task's loss by its running mean")
    class_weight_power: float = Field(0.5, ge=0, le=1, description="class weights (n / (K·n_c))^p; 0 = none")
    image_flips: bool = Field(False, description="mirror each training image left-right and "
                              "up-down, each with probability 1/2 (photos of a weld seam or a "
                              "surface, whose class does not depend on orientation)")
    image_crop_min: float = Field(1.0, gt=0, le=1, description="random crops: each training image is cut "
                                  "to a window whose height and width are each a uniform share in "
                                  "[this, 1] of the image's, at a random place, and resized back; "
                                  "1 = none")
    word_dropout: float = Field(0.0, ge=0, lt=1, description="hide each word of a training text from "
                                "the model with this probability (a text keeps at least its first "
                                "word); 0 = none")
    average_epochs: float = Field(0.0, ge=0, description="validate and keep an exponential moving "
                                  "average of the weights over about this many epochs of steps "
                                  "(:class:`WeightAverage`); 0 = the raw weights")
    rul_mse_weight: float = Field(0.0, ge=0, description="RUL heads: CRPS plus this times the squared "
                                  "error of the mean (in units of the cap); 0 = CRPS alone")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="single-label classification losses: "
                                   "this share of the target spread uniformly over the classes; 0 = none")
    select_by: SelectBy = Field("headline", description="what early stopping reads on validation for "
                                "classification tasks: 'headline' (1 - macro-F1) or 'balanced-nll' (the "
                                "negative log-likelihood of the true class, averaged per class, then over "
                                "classes); other task kinds always use their headline metric")
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


_NO_DECAY_MODULES = (torch.nn.Embedding, torch.nn.LayerNorm)


def decay_groups(modules: torch.nn.Module | Sequence[torch.nn.Module] | Sequence[torch.nn.Parameter],
                 weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups: weight matrices decay; biases, norms, embeddings, learned tokens
    and tags (every parameter of an ``nn.Embedding`` / ``nn.LayerNorm``, or of fewer than 2 or
    more than 2 dims that is not a conv kernel) do not — decaying them only pulls identities and
    scales towards 0. A plain parameter list is split by dimension alone."""
    items: list[torch.nn.Module | torch.nn.Parameter] = (
        [modules] if isinstance(modules, torch.nn.Module) else list(modules))
    decay: list[torch.nn.Parameter] = []
    keep: list[torch.nn.Parameter] = []
    seen: set[int] = set()
    for item in items:
        if isinstance(item, torch.nn.Parameter):
            named = [(item, item.ndim < 2)]
        else:
            exempt = {id(p) for m in item.modules() if isinstance(m, _NO_DECAY_MODULES) for p in m.parameters()}
            named = [(p, id(p) in exempt or p.ndim < 2 or (p.ndim > 2 and not _conv_kernel(item, p)))
                     for p in item.parameters()]
        for param, exempt_param in named:
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            (keep if exempt_param else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]


def _conv_kernel(module: torch.nn.Module, param: torch.nn.Parameter) -> bool:
    return any(param is m.weight for m in module.modules() if isinstance(m, torch.nn.modules.conv._ConvNd))


def make_optimizer(params: torch.nn.Module | Sequence[torch.nn.Module] | Sequence[torch.nn.Parameter],
                   opts: StageOptions) -> torch.optim.Optimizer:
    """AdamW over :func:`decay_groups`; the learning rate is then set each step by :func:`set_lr`."""
    return torch.optim.AdamW(decay_groups(params, opts.weight_decay), lr=opts.lr)


def lr_factor(step: int, total: int, opts: StageOptions) -> float:
    """Share of ``opts.lr`` at 0-based ``step`` of ``total``: linear warm-up over the first
    ``warmup_fraction`` of the steps, then cosine decay to ``min_lr_ratio`` (or constant)."""
    warmup = int(round(opts.warmup_fraction * total))
    if step < warmup:
        return (step + 1) / warmup
    if opts.schedule == "constant" or total <= warmup + 1:
        return 1.0
    progress = min(1.0, (step - warmup) / (total - warmup - 1))
    floor = opts.min_lr_ratio
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, step: int, total: int, opts: StageOptions) -> float:
    """Set every group's learning rate for ``step``; returns it."""
    lr = opts.lr * lr_factor(step, total, opts)
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


def epoch_steps(opts: StageOptions, sizes: Sequence[int], samples_per_step: int) -> int:
    """Optimiser steps in one epoch: ``opts.steps_per_epoch`` when given, else one pass over the
    training data: ceil(Σ sizes / samples_per_step)."""
    if opts.steps_per_epoch is not None:
        return opts.steps_per_epoch
    return max(1, math.ceil(sum(sizes) / max(samples_per_step, 1)))


def clip_and_step(optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter],
                  max_norm: float) -> float:
    """One optimiser step; under DDP the gradients are first averaged over the ranks (before
    clipping, so the clipped norm is that of the global batch's gradient)."""
    average_gradients(params)
    norm = torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], max_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(norm)


class WeightAverage:
    """Exponential moving average of a model's trainable floating-point parameters (Polyak
    averaging): after each optimiser step ``shadow += (1 - d) · (param - shadow)``, with
    ``d = 1 - 1 / horizon_steps`` and, early on, ``d = (1 + t) / (10 + t)`` when that is smaller,
    so the first steps' random weights fade quickly. Buffers (the routers' balancing biases) are
    not averaged: the model keeps its current ones. The average smooths the step-to-step noise of
    small-batch training, so the weights validated and kept at the end of an epoch are less the
    luck of its last batches."""

    def __init__(self, model: torch.nn.Module, horizon_steps: float) -> None:
        if horizon_steps < 1:
            raise ValueError(f"a weight average needs a horizon of at least one step, got {horizon_steps}")
        self.decay = 1.0 - 1.0 / horizon_steps
        self.names = [n for n, p in model.named_parameters() if p.requires_grad and p.is_floating_point()]
        params = dict(model.named_parameters())
        self.shadow = {n: params[n].detach().clone() for n in self.names}
        self.updates = 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        params = dict(model.named_parameters())
        for name in self.names:
            self.shadow[name].lerp_(params[name].detach(), 1.0 - decay)

    @contextlib.contextmanager
    def applied(self, model: torch.nn.Module) -> Iterator[None]:
        """The model holds the averaged weights inside the block and its own weights after it."""
        params = dict(model.named_parameters())
        saved = {n: params[n].detach().clone() for n in self.names}
        with torch.no_grad():
            for name in self.names:
                params[name].copy_(self.shadow[name])
        try:
            yield
        finally:
            with torch.no_grad():
                for name in self.names:
                    params[name].copy_(saved[name])

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "shadow": {n: t.clone() for n, t in self.shadow.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = set(self.names) - set(state["shadow"])
        if missing:
            raise ValueError(f"the saved weight average lacks {sorted(missing)[:3]}: it belongs to another model")
        self.updates = int(state["updates"])
        for name in self.names:
            self.shadow[name].copy_(state["shadow"][name])


def update_router_biases(model: torch.nn.Module) -> None:
    """The MoE bias-balancing step after an optimiser step, on the loads of all ranks."""
    sum_router_loads(model)
    model.update_router_biases()  # type: ignore[operator]  # a PlantPulseModel method; typed here as any Module
