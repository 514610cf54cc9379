"""Operating-regime normalisation for slow process channels, with everything chosen from the data.

A machine that runs at several operating points (C-MAPSS FD002/FD004: six altitude / Mach /
throttle settings) reads very different sensor levels per point, which hides the slow drift that
degradation causes; one that runs at a single point (FD001/FD003) must not be split into clusters
of setting noise. :func:`fit_normalizer` therefore:

1. picks the number of regimes from the setting channels: k-means for k = 2..``max_regimes`` on
   the settings divided by their spread, scored by the silhouette; the best k is kept only when
   its silhouette reaches ``min_silhouette`` (well separated operating points), else there is one
   regime. Settings that never change do not count;
2. computes every statistic in float64 (a float32 std of a constant 518.67 is noise of order
   1e-5, which standardising would blow up into values of order 1);
3. drops channels that are constant within every regime (they carry no information once the
   regime is known) and records their names under ``"dropped"``;
4. returns the statistics :func:`plantpulse.model.moe.normalize.standardise` applies, which travel in
   the checkpoint: ``{"channels": kept, "dropped": [...], "regimes": k, "mean", "std"}`` plus,
   when k > 1, ``"conditions"`` (per-regime mean/std; settings keep their global scale).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from plantpulse.data.core.errors import InputDataError

MIN_SILHOUETTE = 0.7  # k-means on one Gaussian blob scores ~0.3-0.45; distinct operating points ~1
CONSTANT_TOL = 1e-9  # relative: std <= tol * max(1, |mean|) counts as constant


def _is_constant(std: np.ndarray, mean: np.ndarray) -> np.ndarray:
    return std <= CONSTANT_TOL * np.maximum(1.0, np.abs(mean))


def choose_regimes(settings: np.ndarray, max_regimes: int = 8, min_silhouette: float = MIN_SILHOUETTE,
                   seed: int = 0, sample: int = 3000) -> tuple[int, np.ndarray, np.ndarray]:
    """(N, S) setting rows -> (k, centers (k, S) in the settings' units, scale (S,)).

    ``k`` = 1 (centre = the mean) unless a k-means split scores a silhouette >= ``min_silhouette``.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x = np.asarray(settings, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise InputDataError(f"choose_regimes needs (N, S) setting rows with N > 0; got shape {x.shape}.")
    scale = x.std(0)
    varying = ~_is_constant(scale, x.mean(0))
    scale = np.where(varying, scale, 1.0)
    one = (1, x.mean(0, keepdims=True), scale)
    if not varying.any():
        return one
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(x), min(sample, len(x)), replace=False) if len(x) > sample else np.arange(len(x))
    z = x[pick][:, varying] / scale[varying]
    distinct = len(np.unique(np.round(z, 9), axis=0))
    best: tuple[float, Any] = (-1.0, None)
    for k in range(2, min(max_regimes, distinct - 1) + 1):
        km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(z)
        score = float(silhouette_score(z, km.labels_))
        if score > best[0] + 1e-6:
            best = (score, km)
    if best[1] is None or best[0] < min_silhouette:
        return one
    km = best[1]
    centers = np.tile(x.mean(0), (km.n_clusters, 1))
    centers[:, varying] = km.cluster_centers_ * scale[varying]
    return km.n_clusters, centers, scale


def nearest_regime(settings: np.ndarray, centers: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(..., S) -> (...,) index of the nearest centre in settings divided by ``scale``."""
    d = (np.asarray(settings, dtype=np.float64)[..., None, :] - centers) / scale
    return np.argmin((d**2).sum(-1), axis=-1)


def fit_normalizer(values: np.ndarray, channels: Sequence[str], settings: Sequence[str] = (),
                   max_regimes: int = 8, seed: int = 0) -> dict[str, Any]:
    """Statistics of training rows ``values`` (N, C); see the module docstring."""
    from plantpulse.model.moe.normalize import _index

    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(channels):
        raise InputDataError(f"fit_normalizer: values must be (N, {len(channels)}); got {x.shape}.")
    cols = _index(channels, settings, "fit_normalizer") if settings else []
    if cols:
        k, centers, scale = choose_regimes(x[:, cols], max_regimes, seed=seed)
    else:  # no setting channels: one regime; centres (1, 0) and scale (0,) as for zero settings
        k, centers, scale = 1, np.zeros((1, 0)), np.ones(0)
    labels = nearest_regime(x[:, cols], centers, scale) if k > 1 else np.zeros(len(x), dtype=int)
    mean, std = x.mean(0), x.std(0)
    per_mean = np.stack([x[labels == r].mean(0) for r in range(k)])
    per_std = np.stack([x[labels == r].std(0) for r in range(k)])
    constant = _is_constant(per_std, per_mean).all(0) | _is_constant(std, mean)
    if cols and k > 1:  # a setting that moves between regimes is what defines them: keep it
        constant[cols] = _is_constant(std, mean)[cols]
    keep = np.flatnonzero(~constant)
    if not len(keep):
        raise InputDataError(f"fit_normalizer: every channel of {list(channels)} is constant in the "
                             f"training rows; nothing to learn from.")
    safe = np.where(std < 1e-12, 1.0, std)
    stats: dict[str, Any] = {"channels": [channels[int(i)] for i in keep],
                             "dropped": [channels[int(i)] for i in np.flatnonzero(constant)], "regimes": int(k),
                             "mean": mean[keep].tolist(), "std": safe[keep].tolist()}
    if k > 1:
        by = [channels[c] for c in cols if not constant[c]]
        by_cols = [cols.index(channels.index(b)) for b in by]
        cond_mean, cond_std = per_mean[:, keep].copy(), np.where(per_std < 1e-12, 1.0, per_std)[:, keep]
        is_setting = np.isin(keep, cols)
        cond_mean[:, is_setting], cond_std[:, is_setting] = mean[keep][is_setting], safe[keep][is_setting]
        stats["conditions"] = {"by": by, "scale": scale[by_cols].tolist(), "centers": centers[:, by_cols].tolist(),
                               "mean": cond_mean.tolist(), "std": cond_std.tolist()}
    return stats
