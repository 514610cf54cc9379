"""Per-channel standardisation stored with a checkpoint, optionally per operating condition.

Plain statistics: ``{"channels": [...], "mean": [...], "std": [...]}``. Engines that run at several
operating conditions (C-MAPSS FD002/FD004: six altitude / Mach / throttle settings) read very
different sensor levels per condition, which hides the slow drift that degradation causes; the
optional ``"conditions"`` entry clusters the rows by their operating-setting channels and holds
mean/std per cluster:

``{"conditions": {"by": [setting channel names], "scale": [...], "centers": K x S,
"mean": K x C, "std": K x C}}`` — a row is assigned to the nearest centre in settings divided by
``scale``, then standardised with that cluster's statistics. Training and inference both call
:func:`standardise`, so they can never disagree.

Statistics made by :func:`plantpulse.model.moe.regimes.fit_normalizer` also name the channels that
were constant in training (``"dropped"``): :func:`standardise` leaves those out of its output
(see :func:`output_channels`), so a caller may pass the full channel list it was trained from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from plantpulse.data.core.errors import InputDataError


def _index(channels: Sequence[str], names: Sequence[str], where: str) -> list[int]:
    position = {name: i for i, name in enumerate(channels)}
    missing = [n for n in names if n not in position]
    if missing:
        raise InputDataError(f"{where}: channel(s) {missing} are needed but not given. Given: {list(channels)}.")
    return [position[n] for n in names]


def fit_conditions(values: np.ndarray, channels: Sequence[str], by: Sequence[str], n_conditions: int,
                   seed: int = 0) -> dict[str, Any]:
    """Plain statistics plus per-condition ones, from training rows ``values`` (N, C)."""
    from sklearn.cluster import KMeans

    cols = _index(channels, by, "fit_conditions")
    scale = values[:, cols].std(0)
    scale = np.where(scale < 1e-9, 1.0, scale)
    km = KMeans(n_clusters=n_conditions, n_init=10, random_state=seed).fit(values[:, cols] / scale)
    centers = km.cluster_centers_ * scale
    mean, std = values.mean(0), values.std(0)
    stats: dict[str, Any] = {"channels": list(channels), "mean": mean.tolist(),
                             "std": np.where(std < 1e-6, 1.0, std).tolist()}
    cond_mean, cond_std = [], []
    for k in range(n_conditions):
        rows = values[km.labels_ == k]
        m, s = rows.mean(0), rows.std(0)
        m[cols], s[cols] = mean[cols], np.asarray(stats["std"])[cols]  # settings: global scale
        cond_mean.append(m)
        cond_std.append(np.where(s < 1e-6, 1.0, s))
    stats["conditions"] = {"by": list(by), "scale": scale.tolist(), "centers": centers.tolist(),
                           "mean": np.asarray(cond_mean).tolist(), "std": np.asarray(cond_std).tolist()}
    return stats


def condition_of(values: np.ndarray, channels: Sequence[str], stats: dict[str, Any]) -> np.ndarray:
    """(..., C) raw rows -> (...,) index of the nearest operating condition."""
    cond = stats["conditions"]
    cols = _index(channels, cond["by"], "operating-condition normalisation")
    scale = np.asarray(cond["scale"])
    settings = values[..., cols] / scale
    centers = np.asarray(cond["centers"]) / scale
    return np.argmin(((settings[..., None, :] - centers) ** 2).sum(-1), axis=-1)


def output_channels(channels: Sequence[str], stats: dict[str, Any]) -> tuple[str, ...]:
    """The channels :func:`standardise` returns for input ``channels``: the dropped ones left out."""
    dropped = set(stats.get("dropped", ()))
    return tuple(c for c in channels if c not in dropped)


def standardise(values: np.ndarray, channels: Sequence[str], stats: dict[str, Any]) -> np.ndarray:
    """(..., C) raw values of ``channels`` -> float32 (..., C') standardised with ``stats`` (see
    module doc); C' = :func:`output_channels` (constant-in-training channels are left out)."""
    kept = output_channels(channels, stats)
    if len(kept) != len(channels):
        values = np.asarray(values)[..., [i for i, c in enumerate(channels) if c in set(kept)]]
        channels = kept
    values = np.asarray(values, dtype=np.float64)
    pick = _index(stats["channels"], channels, "standardise")
    if "conditions" not in stats:
        mean = np.asarray(stats["mean"], dtype=np.float64)[pick]
        std = np.asarray(stats["std"], dtype=np.float64)[pick]
        return ((values - mean) / std).astype(np.float32)
    k = condition_of(values, channels, stats)
    mean = np.asarray(stats["conditions"]["mean"])[k][..., pick]
    std = np.asarray(stats["conditions"]["std"])[k][..., pick]
    return ((values - mean) / std).astype(np.float32)
