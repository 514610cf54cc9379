"""Survival curves for the dashboard: the fleet's Kaplan–Meier curve and a model's RUL curve.

Both are a few lines of numpy on small inputs (one duration per asset life, a handful of
quantiles), so the pages do not need to import a statistics package to draw them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd


@dataclass(frozen=True, slots=True)
class Lives:
    """Observed lives of assets: durations (N,) in hours and whether each ended in a failure."""

    durations_h: np.ndarray
    failed: np.ndarray
    group: np.ndarray  # (N,) object, e.g. the asset type


def kaplan_meier(durations: np.ndarray, observed: np.ndarray) -> pd.DataFrame:
    """Product-limit estimate: columns ``time``, ``survival``, ``at_risk`` (a step function).

    ``durations`` (N,) >= 0; ``observed`` (N,) bool, False for censored lives.
    """
    durations = np.asarray(durations, dtype=np.float64)
    observed = np.asarray(observed, dtype=bool)
    times = np.unique(durations[observed])
    survival, rows = 1.0, [(0.0, 1.0, int(durations.size))]
    for t in times:
        at_risk = int(np.sum(durations >= t))
        events = int(np.sum((durations == t) & observed))
        survival *= 1.0 - events / at_risk
        rows.append((float(t), survival, at_risk))
    if durations.size:
        last = float(durations.max())
        if last > rows[-1][0]:
            rows.append((last, survival, int(np.sum(durations >= last))))
    return pd.DataFrame(rows, columns=["time", "survival", "at_risk"])


def asset_lives(failures: Mapping[int, Sequence[datetime]], spans: Mapping[int, tuple[datetime, datetime]],
                groups: Mapping[int, str]) -> Lives:
    """Lives between failures of each asset, censored at its last reading.

    ``spans`` maps asset id -> (first, last) reading time; ``failures`` asset id -> failure
    times. An asset without failures contributes one censored life (first to last reading).
    """
    durations, failed, group = [], [], []
    for asset_id, (first, last) in spans.items():
        start = first
        for when in sorted(t for t in failures.get(asset_id, ()) if first <= t <= last):
            durations.append((when - start).total_seconds() / 3600.0)
            failed.append(True)
            group.append(groups.get(asset_id, ""))
            start = when
        if last > start:
            durations.append((last - start).total_seconds() / 3600.0)
            failed.append(False)
            group.append(groups.get(asset_id, ""))
    return Lives(np.asarray(durations, dtype=np.float64), np.asarray(failed, dtype=bool),
                 np.asarray(group, dtype=object))


def fleet_curves(lives: Lives) -> pd.DataFrame:
    """One Kaplan–Meier curve per group that saw at least one failure (columns + ``group``)."""
    frames = []
    for name in sorted(set(lives.group.tolist())):
        pick = lives.group == name
        if not lives.failed[pick].any():
            continue
        curve = kaplan_meier(lives.durations_h[pick], lives.failed[pick])
        curve["group"] = name
        curve["lives"] = int(pick.sum())
        curve["failures"] = int(lives.failed[pick].sum())
        frames.append(curve)
    if not frames:
        return pd.DataFrame(columns=["time", "survival", "at_risk", "group", "lives", "failures"])
    return pd.concat(frames, ignore_index=True)


def rul_survival(quantiles: Mapping[str, float] | None, mean: float | None = None,
                 lower: float | None = None, upper: float | None = None) -> pd.DataFrame:
    """P(RUL > t) from a predicted RUL distribution: columns ``time``, ``survival``.

    Uses the stored quantiles (``{"0.1": 40.0, "0.5": 62.0, ...}``) when there are any, else
    the 80 % interval and mean as the 10th/50th/90th percentiles. Between quantiles the curve
    is linear, which is all the information the prediction carries.
    """
    points: dict[float, float] = {}
    for key, value in (quantiles or {}).items():
        try:
            q, v = float(key), float(value)
        except (TypeError, ValueError):
            continue
        if 0.0 < q < 1.0 and np.isfinite(v):
            points[q] = v
    if not points:
        for q, bound in ((0.1, lower), (0.5, mean), (0.9, upper)):
            if bound is not None and np.isfinite(bound):
                points[q] = float(bound)
    if not points:
        return pd.DataFrame(columns=["time", "survival"])
    qs = np.array(sorted(points))
    values = np.maximum.accumulate(np.maximum([points[q] for q in qs], 0.0))
    times = np.concatenate([[0.0], values])
    survival = np.concatenate([[1.0], 1.0 - qs])
    return pd.DataFrame({"time": times, "survival": survival})
