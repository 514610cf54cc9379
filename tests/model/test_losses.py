"""The RUL loss: CRPS alone, and CRPS plus a squared-error term on the mean (``rul_mse_weight``);
label smoothing of the classification loss."""

from __future__ import annotations

import pytest
import torch

from plantpulse.model.moe.layers.heads import ClassOutput, RULDistribution
from plantpulse.model.moe.losses import gaussian_crps, task_loss

CAP = 125.0


def test_the_squared_error_term_is_added_in_units_of_the_cap():
    dist = RULDistribution(mean=torch.tensor([10.0, 60.0]), std=torch.tensor([5.0, 8.0]))
    target = torch.tensor([20.0, 200.0])  # the second is clipped to the cap
    crps = gaussian_crps(dist, target.clamp(0, CAP), CAP)
    assert float(task_loss(dist, target, CAP)) == pytest.approx(float(crps))
    squared = ((10 - 20) / CAP) ** 2 / 2 + ((60 - CAP) / CAP) ** 2 / 2
    assert float(task_loss(dist, target, CAP, rul_mse_weight=3.0)) == pytest.approx(float(crps) + 3 * squared)


def _fitted_mean(weight: float) -> float:
    """The mean a narrow Gaussian settles on for skewed targets (four at 0, one at 100)."""
    target = torch.tensor([0.0, 0.0, 0.0, 0.0, 100.0])
    mu = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([mu], lr=1.0)
    for _ in range(400):
        optimizer.zero_grad()
        dist = RULDistribution(mean=mu.expand(5), std=torch.full((5,), 1.0))
        task_loss(dist, target, CAP, rul_mse_weight=weight).backward()
        optimizer.step()
    return float(mu.detach())


def test_crps_fits_the_median_and_the_squared_error_pulls_to_the_mean():
    # CRPS of a narrow Gaussian is an absolute error: its minimiser is the median (0); the squared
    # error's is the mean (20), which is what RMSE rewards
    assert abs(_fitted_mean(0.0)) < 3.0
    assert _fitted_mean(50.0) == pytest.approx(20.0, abs=2.0)


def test_label_smoothing_spreads_the_target_over_the_classes_of_a_single_label_head():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    target = torch.tensor([0, 2])
    log_p = torch.log_softmax(logits, dim=1)
    hard = -log_p[torch.arange(2), target].mean()
    smooth = 0.9 * hard + 0.1 * (-log_p.mean(dim=1)).mean()  # 0.1 of the mass spread over the 3 classes
    out = ClassOutput(logits=logits)
    assert float(task_loss(out, target)) == pytest.approx(float(hard))
    assert float(task_loss(out, target, label_smoothing=0.1)) == pytest.approx(float(smooth))
    multilabel = ClassOutput(logits=logits, multilabel=True)  # a multilabel head ignores it
    labels = torch.tensor([[1, 0, 0], [0, 0, 1]])
    assert float(task_loss(multilabel, labels, label_smoothing=0.1)) == pytest.approx(float(task_loss(multilabel, labels)))
