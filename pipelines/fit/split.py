"""Train / validation / test rows, split by asset; by time (with a gap) inside an asset only when
there are too few assets to hold whole ones out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """Row indices of each part and how the split was made ("assets" or "time")."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    how: str
    test_assets: tuple[str, ...]


def _time_parts(rows: np.ndarray, fractions: tuple[float, ...], gap: int) -> list[np.ndarray]:
    """Consecutive parts of ``rows`` (in time order) sized by ``fractions`` of what is left after
    dropping ``gap`` rows between parts, so overlapping windows never straddle two parts."""
    usable = max(len(rows) - gap * (len(fractions) - 1), 0)
    sizes = [int(round(f * usable)) for f in fractions[:-1]]
    sizes.append(usable - sum(sizes))
    parts, start = [], 0
    for size in sizes:
        parts.append(rows[start:start + size])
        start += size + gap
    return parts


def split_rows(groups: np.ndarray, order: np.ndarray, holdout: float, gap: int, seed: int) -> Split:
    """``groups`` (N,) asset name per row, ``order`` (N,) the row's time. Three or more assets: whole
    assets go to test (``holdout`` share, at least one) and validation (a fifth, at least one).
    Two: one asset is the test; the other is split by time. One: split by time."""
    assets = np.unique(groups)
    rng = np.random.default_rng(seed)
    shuffled = list(rng.permutation(assets))
    by_time = np.argsort(order, kind="stable")
    if len(assets) >= 3:
        n_test = min(max(1, int(round(holdout * len(assets)))), len(assets) - 2)
        n_val = min(max(1, int(round(0.2 * len(assets)))), len(assets) - n_test - 1)
        held = shuffled[:n_test]

        def pick(names: list) -> np.ndarray:
            return np.flatnonzero(np.isin(groups, names))

        return Split(pick(shuffled[n_test + n_val:]), pick(shuffled[n_test:n_test + n_val]), pick(held),
                     "assets", tuple(str(a) for a in sorted(held)))
    if len(assets) == 2:
        test_asset = shuffled[0]
        rest = by_time[groups[by_time] != test_asset]
        head, tail = _time_parts(rest, (0.8, 0.2), gap)
        return Split(head, tail, np.flatnonzero(groups == test_asset), "assets+time", (str(test_asset),))
    parts = _time_parts(by_time, (1 - holdout - 0.15, 0.15, holdout), gap)
    return Split(parts[0], parts[1], parts[2], "time", (str(assets[0]),) if len(assets) else ())


def normal_time_split(order: np.ndarray, normal: np.ndarray, gap: int, asset: str) -> Split:
    """Anomaly on one asset: the normal period is split by time (60 / 20 / 20 %, with gaps) so the
    test holds held-out normal windows beside every later one; the AUROC needs both."""
    by_time = np.argsort(order, kind="stable")
    normal_rows = by_time[normal[by_time].astype(bool)]
    train, val, test_normal = _time_parts(normal_rows, (0.6, 0.2, 0.2), gap)
    later = by_time[~normal[by_time].astype(bool)]
    return Split(train, val, np.sort(np.concatenate([test_normal, later])), "time", (asset,))
