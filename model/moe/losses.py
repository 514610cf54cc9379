"""Loss functions of the three training stages (all return a scalar tensor).

Targets follow the head kinds: class ids (B,) int64 for classification, (B, K) {0, 1} floats for
multilabel, RUL in cycles (B,) for rul, and ``is_normal`` (B,) bool for anomaly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from plantpulse.model.moe.layers.heads import AnomalyOutput, ClassOutput, HeadOutput, RULDistribution

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)


def gaussian_crps(dist: RULDistribution, target: Tensor, scale: float) -> Tensor:
    """Closed-form CRPS of Normal(mean, std) at ``target``, in units of ``scale`` (the RUL cap).

    A proper scoring rule: it rewards a correct mean *and* an honest spread, which is what makes
    the 80 % intervals calibrated, and it is less brittle than the Gaussian NLL.
    """
    mu, sigma = dist.mean.float() / scale, dist.std.float() / scale  # fp32 even under autocast
    z = (target / scale - mu) / sigma
    pdf = torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * torch.erfc(-z / math.sqrt(2))
    return (sigma * (z * (2 * cdf - 1) + 2 * pdf - _INV_SQRT_PI)).mean()


def anomaly_loss(out: AnomalyOutput, is_normal: Tensor, margin: float = 1.0) -> Tensor:
    """Deep SVDD with outlier exposure: pull normal samples to the centre, push others past margin."""
    normal = is_normal.to(torch.bool)
    distance = out.distance.float()
    pull = distance[normal].mean() if bool(normal.any()) else distance.sum() * 0.0
    push = F.relu(margin - distance[~normal]).mean() if bool((~normal).any()) else pull * 0.0
    return pull + push


def task_loss(out: HeadOutput, target: Tensor, rul_cap: float = 125.0,
              class_weights: Tensor | None = None, rul_mse_weight: float = 0.0,
              label_smoothing: float = 0.0) -> Tensor:
    """The supervised loss for one head's output. ``class_weights``: (K,) per-class weights of a
    classification head, or (K,) positive weights of a multilabel head (None: unweighted).
    ``label_smoothing``: a single-label classification head's target puts this much of its mass
    uniformly on all K classes (Szegedy et al., 2016); multilabel and other heads ignore it.
    ``rul_mse_weight``: a RUL head's CRPS plus this times the squared error of its mean, both in
    units of the cap (CRPS alone weighs errors about linearly, like an absolute error; the squared
    term weighs the large ones as RMSE does)."""
    if isinstance(out, RULDistribution):
        clipped = target.float().clamp(0, rul_cap)
        loss = gaussian_crps(out, clipped, rul_cap)
        if rul_mse_weight > 0:
            loss = loss + rul_mse_weight * ((out.mean.float() - clipped) / rul_cap).pow(2).mean()
        return loss
    if isinstance(out, AnomalyOutput):
        return anomaly_loss(out, target)
    weights = None if class_weights is None else class_weights.to(out.logits.device)
    if isinstance(out, ClassOutput) and out.multilabel:
        return F.binary_cross_entropy_with_logits(out.logits.float(), target.float(), pos_weight=weights)
    return F.cross_entropy(out.logits.float(), target.long(), weight=weights, label_smoothing=label_smoothing)


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over the masked tokens only: pred/target (B, N, P), mask (B, N)."""
    if not bool(mask.any()):
        return pred.sum() * 0.0
    return F.mse_loss(pred[mask], target[mask])


def masked_token_ce(logits: Tensor, target_ids: Tensor, mask: Tensor) -> Tensor:
    """Cross-entropy of masked text tokens: logits (B, N, V), target_ids (B, N), mask (B, N)."""
    if not bool(mask.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[mask], target_ids[mask])


def info_nce(a: Tensor, b: Tensor, temperature: float = 0.1) -> Tensor:
    """Symmetric InfoNCE between paired embeddings a, b (B, d): row i of a matches row i of b."""
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    logits = a @ b.T / temperature
    labels = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def distillation_loss(student: HeadOutput, teacher: HeadOutput, temperature: float = 2.0) -> Tensor:
    """Match the teacher's output distribution (KL for classes, moments for RUL, distance)."""
    if isinstance(student, ClassOutput):
        if student.multilabel:
            return F.binary_cross_entropy_with_logits(student.logits, torch.sigmoid(teacher.logits))
        t = temperature
        return F.kl_div(F.log_softmax(student.logits / t, -1), F.softmax(teacher.logits / t, -1),
                        reduction="batchmean") * t * t
    if isinstance(student, RULDistribution):
        scale = teacher.std.detach().mean().clamp_min(1e-3) * 4
        return F.mse_loss(student.mean / scale, teacher.mean / scale) + \
            F.mse_loss(student.std / scale, teacher.std / scale)
    return F.mse_loss(student.distance, teacher.distance)


class UncertaintyWeighting(nn.Module):
    """Kendall et al. 2018: total = Σ exp(-s_t)·L_t + s_t with learned log-variances s_t."""

    def __init__(self, tasks: tuple[str, ...]) -> None:
        super().__init__()
        self.tasks = tasks
        self.log_vars = nn.Parameter(torch.zeros(len(tasks)))

    def weigh(self, name: str, loss: Tensor) -> Tensor:
        s = self.log_vars[self.tasks.index(name)]
        return torch.exp(-s) * loss + s
