"""PCGrad gradient surgery for multi-task fine-tuning (Yu et al., NeurIPS 2020).

For each task gradient g_i and every other task j (random order): only when they *conflict*
(g_i·g_j < 0) is the component of g_i along g_j removed, g_i ← g_i − (g_i·g_j / |g_j|²)·g_j.
Non-conflicting gradients pass unchanged. Projections always use the other tasks' original
gradients and write into new tensors — the inputs are never modified in place (both were
defects of the design sketch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True, slots=True)
class PCGradReport:
    """conflicts: number of (i, j) pairs projected; pairs: number of pairs examined."""

    conflicts: int
    pairs: int


def project_conflicting(grads: Sequence[Tensor], generator: torch.Generator | None = None,
                        eps: float = 1e-12) -> tuple[list[Tensor], PCGradReport]:
    """Flat task gradients (P,) each -> projected copies, plus how many pairs conflicted."""
    n = len(grads)
    out, conflicts = [], 0
    for i in range(n):
        g = grads[i]
        order = torch.randperm(n, generator=generator).tolist()
        for j in order:
            if j == i:
                continue
            dot = torch.dot(g, grads[j])
            if dot < 0:
                g = g - dot / (grads[j].dot(grads[j]) + eps) * grads[j]
                conflicts += 1
        out.append(g if g is not grads[i] else g.clone())
    return out, PCGradReport(conflicts, n * (n - 1))


def flat_grad(loss: Tensor, params: Sequence[nn.Parameter], retain_graph: bool = False) -> Tensor:
    """d loss / d params as one flat (P,) vector (zeros for parameters the loss does not use)."""
    grads = torch.autograd.grad(loss, params, retain_graph=retain_graph, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                      for g, p in zip(grads, params, strict=True)])


def assign_flat_grad(params: Sequence[nn.Parameter], flat: Tensor) -> None:
    """Add the flat gradient ``flat`` (P,) to ``p.grad`` of each parameter."""
    offset = 0
    for p in params:
        chunk = flat[offset:offset + p.numel()].view_as(p)
        offset += p.numel()
        p.grad = chunk.clone() if p.grad is None else p.grad + chunk


def pcgrad_step_gradients(flats: Sequence[Tensor], params: Sequence[nn.Parameter],
                          generator: torch.Generator | None = None) -> PCGradReport:
    """Project per-task flat gradients and add their sum to the parameters' ``.grad``."""
    projected, report = project_conflicting(flats, generator)
    assign_flat_grad(params, torch.stack(projected).sum(0))
    return report


def pcgrad_backward(losses: Sequence[Tensor], params: Sequence[nn.Parameter],
                    generator: torch.Generator | None = None) -> PCGradReport:
    """Set ``p.grad`` (accumulating) to the sum of the projected per-task gradients.

    Training loops that run one forward per task should rather call :func:`flat_grad` right
    after each task's forward (its graph is freed at once) and then :func:`pcgrad_step_gradients`.
    """
    flats = [flat_grad(loss, params, retain_graph=i < len(losses) - 1) for i, loss in enumerate(losses)]
    return pcgrad_step_gradients(flats, params, generator)
