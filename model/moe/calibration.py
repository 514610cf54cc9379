"""Calibrated RUL intervals: split-conformal scaling of the RUL head's Gaussian.

The RUL head predicts Normal(mean, std); its nominal 80 % interval ``mean ± 1.28 std`` covers
whatever share of units the training happened to make it cover. Split conformal prediction fixes
the share on held-out data: on validation units (for C-MAPSS the last window of randomly cut
validation engines, the test protocol's shape) each unit's score is ``|y - p| / std`` with ``p``
the point prediction clipped to [0, cap]; the ⌈(n + 1)·0.8⌉-th smallest score ``q`` replaces 1.28,
and ``p ± q·std`` then covers a new unit with probability at least 80 % when validation and test
units are exchangeable (and, with continuous scores, at most 80 % + 1/(n + 1)). Dividing by
``std`` keeps the interval adaptive: wide where the model is unsure.

**The interval covers the units below the cap too** (:func:`conformal_scale`). A unit whose true
RUL is at the cap (a healthy engine, clipped to the cap like its prediction) usually has a
near-zero score and is covered almost always; calibrated on all units alone, those easy units pay
for a narrow interval on the degrading ones, and a fleet (or a test set) with fewer healthy units
than validation falls short of 80 %. On the C-MAPSS validation cuts of the evaluation's teachers,
the interval calibrated on all cuts covered 66–77 % of the cuts below the cap out of sample on 11
of 12 teachers (docs/benchmarks.md, "RUL intervals that cover the degrading engines"). So ``q`` is
the larger of two split-conformal multipliers, one over every unit and one over the units below
the cap: the 80 % then holds for both populations (a wider interval only covers more), whatever
their mix. A model that under-predicts healthy units keeps the multiplier of all units, which is
the larger there. Too few units below the cap (fewer than the level needs): all units alone, as
before.

``q`` is stored per RUL task in the checkpoint (``extra["rul_intervals"]``, see :func:`entry`) and
:func:`rul_interval` applies it wherever the model is scored (inference, evaluation).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import norm

from plantpulse.data.core.errors import InputDataError

LEVEL = 0.8
MIN_STD = 1e-6  # the head's std is >= 1e-3 * cap; this only guards a division
METHOD = "split conformal, |y - p| / std, the larger over all units and over those below the cap"


def conformal_scale(mean: np.ndarray, std: np.ndarray, target: np.ndarray, cap: float,
                    level: float = LEVEL) -> float | None:
    """The split-conformal multiplier ``q`` of ``std`` from (N,) validation predictions and targets:
    the larger of those over every unit and over the units whose target is below ``cap`` (the
    first alone when too few are; see the module docstring); None when N is too small for
    ``level`` (fewer than ``level / (1 - level)`` units)."""
    mean, std, target = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (mean, std, target))
    if not (mean.shape == std.shape == target.shape):
        raise InputDataError(f"conformal_scale: mean {mean.shape}, std {std.shape} and target {target.shape} differ.")
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and np.isfinite(target).all()):
        raise InputDataError("conformal_scale: predictions or targets contain NaN or inf.")
    scores = np.abs(np.clip(target, 0.0, cap) - np.clip(mean, 0.0, cap)) / np.maximum(std, MIN_STD)
    every = _quantile(scores, level)
    if every is None:
        return None
    below = _quantile(scores[target < cap], level)
    return every if below is None else max(every, below)


def _quantile(scores: np.ndarray, level: float) -> float | None:
    """The ⌈(n + 1)·level⌉-th smallest of n scores; None when that rank exceeds n."""
    rank = math.ceil((len(scores) + 1) * level)
    return None if len(scores) == 0 or rank > len(scores) else float(np.sort(scores)[rank - 1])


def rul_interval(mean: np.ndarray, std: np.ndarray, cap: float, scale: float | None = None,
                 level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(point, lower, upper) of (N,) Gaussian RUL predictions, all in [0, cap]: ``p ± scale·std``
    with ``p`` = mean clipped to [0, cap]; ``scale`` None is the uncalibrated Gaussian quantile."""
    mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    z = float(norm.ppf((1 + level) / 2)) if scale is None else float(scale)
    point = np.clip(mean, 0.0, cap)
    return point, np.clip(point - z * std, 0.0, cap), np.clip(point + z * std, 0.0, cap)


def entry(scale: float, n: int, level: float = LEVEL) -> dict[str, Any]:
    """What a checkpoint stores for one RUL task under ``extra["rul_intervals"][task]`` (``n``: the
    validation units). Checkpoints calibrated on all units alone say ``split conformal, |y - p| / std``."""
    return {"level": level, "scale": scale, "n": n, "method": METHOD}


def stored_scale(extra: dict[str, Any] | None, task: str, level: float = LEVEL) -> float | None:
    """The calibrated multiplier a checkpoint's ``extra`` holds for ``task`` at ``level`` (None: none)."""
    found = ((extra or {}).get("rul_intervals") or {}).get(task)
    if not found or abs(float(found.get("level", -1)) - level) > 1e-9:
        return None
    return float(found["scale"])
