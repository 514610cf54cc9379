"""Data-parallel training across processes (PyTorch DDP semantics, without the DDP wrapper).

The stages run unchanged in one process. When ``torch.distributed`` is initialised with more
than one rank (Ray Train's TorchTrainer does that, see ``plantpulse.pipelines.runtime.ray_engine``):

- every rank starts from rank 0's parameters (:func:`sync_parameters`), draws its own batches
  (:func:`rank_seed`, :func:`data_seed`), and before each optimiser step the gradients are
  averaged over the ranks (:func:`average_gradients`, called by ``clip_and_step`` before
  clipping), so all ranks take the same step and stay identical;
- the MoE bias balancing counts expert loads over all ranks (:func:`sum_router_loads`);
- decisions taken from metrics (early stopping, best weights) use values every rank agrees on
  (:func:`mean_over_ranks`, :func:`from_main`).

Averaging in the optimiser step instead of wrapping the model in ``DistributedDataParallel``
keeps PCGrad working: it builds each step's gradient from per-task gradients
(``torch.autograd.grad``), which DDP's backward hooks would not see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")


def world() -> tuple[int, int]:
    """(rank, world size) of the default process group; (0, 1) outside distributed training."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """True on rank 0 (and in a single process): the one that writes files and prints."""
    return world()[0] == 0


def rank_seed(seed: int) -> int:
    """``seed`` in one process (local runs stay reproducible as before); a distinct seed per rank
    under DDP, so that ranks draw different batches and masks."""
    rank, size = world()
    if size == 1:
        return seed
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


def data_seed(*words: int) -> list[int]:
    """Seed words for ``np.random.default_rng``: ``words`` in one process, plus the rank under DDP."""
    rank, size = world()
    return [*words] if size == 1 else [*words, 1000 + rank]


def _device() -> torch.device:
    """Where collective tensors must live: the current GPU for NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def average_gradients(params: Sequence[nn.Parameter]) -> None:
    """Average ``p.grad`` over the ranks (one all-reduce); no-op in one process.

    A parameter without a gradient on some rank (an expert no token reached, a head whose task
    had no batch there) counts as a zero gradient on that rank, as in DDP; a parameter without
    a gradient on every rank keeps ``grad=None`` so the optimiser skips it, as locally.
    """
    _, size = world()
    if size == 1:
        return
    params = [p for p in params if p.requires_grad]
    if not params:
        return
    device = params[0].device
    flat = torch.cat([torch.zeros(p.numel(), device=device) if p.grad is None else
                      p.grad.detach().reshape(-1).float() for p in params]
                     + [torch.tensor([float(p.grad is not None) for p in params], device=device)])
    flat = flat.to(_device())
    dist.all_reduce(flat)
    flat = flat.to(device)
    present = flat[-len(params):]
    offset = 0
    for p, seen in zip(params, present.tolist(), strict=True):
        chunk = flat[offset:offset + p.numel()].view_as(p)
        offset += p.numel()
        if seen > 0:
            p.grad = (chunk / size).to(p.dtype)


def sum_router_loads(model: nn.Module) -> None:
    """Sum the pending expert loads of every bias-balanced MoE layer over the ranks, so each rank
    moves its router biases by the same step (call just before ``update_router_biases``)."""
    _, size = world()
    if size == 1:
        return
    from plantpulse.model.moe.layers.experts import HierarchicalMoELayer

    for module in model.modules():
        if isinstance(module, HierarchicalMoELayer) and module.cfg.balance == "bias":
            load = module.pending_load.to(_device())
            dist.all_reduce(load)
            module.pending_load.copy_(load.to(module.pending_load.device))


@torch.no_grad()
def sync_parameters(*modules: nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank (DDP does the same when it wraps)."""
    _, size = world()
    if size == 1:
        return
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            if not tensor.is_floating_point():  # index tables built from the config
                continue
            copy = tensor.detach().to(_device())
            dist.broadcast(copy, src=0)
            tensor.copy_(copy.to(tensor.device))


def mean_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """Per-key mean over the ranks (a key missing on a rank counts as 0 there), e.g. the epoch's
    training losses, which differ per rank because each rank saw other batches."""
    _, size = world()
    if size == 1:
        return values
    gathered: list[Any] = [None] * size
    dist.all_gather_object(gathered, values)
    keys = sorted({k for part in gathered for k in part})
    return {k: float(sum(part.get(k, 0.0) for part in gathered) / size) for k in keys}


def from_main(value: T) -> T:
    """Rank 0's ``value`` on every rank (e.g. a validation result an early-stopping decision
    follows: identical in exact arithmetic on every rank, but not guaranteed bit-identical)."""
    _, size = world()
    if size == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
