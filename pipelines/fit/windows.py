"""Per-asset readings -> a regular time grid -> sliding windows.

Continuous low-rate channels are averaged into grid cells of ``step`` seconds; a gap of up to
``max_gap`` empty cells is forward-filled, a longer one stays NaN (the boosting baseline takes NaN
as missing; the network sees 0 after standardisation). One asset is read at a time, so memory is
bounded by the largest asset, never by the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import SensorWindow


@dataclass(frozen=True)
class AssetWindows:
    """Windows of one asset. ``windows`` (N, T, C) float32 with NaN where no reading was near;
    ``ends`` (N,) seconds since the epoch of each window's last grid cell; ``first``/``last`` the
    asset's first and last reading (seconds since the epoch); ``extra`` (N,) per channel not fed
    to the models (label columns): its last value in each window."""

    asset: str
    channels: tuple[str, ...]
    windows: np.ndarray
    ends: np.ndarray
    first: float
    last: float
    extra: dict[str, np.ndarray]
    grid: np.ndarray  # (G, C) the whole gridded series (threshold rules read it)
    grid_ends: np.ndarray  # (G,) seconds of each grid cell


def seconds(ts: np.ndarray) -> np.ndarray:
    """datetime64 -> float seconds since the epoch."""
    return ts.astype("datetime64[us]").astype(np.int64) / 1e6


def median_step(window: SensorWindow) -> float:
    """The median spacing of an asset's timestamps in seconds (0 when it has fewer than two)."""
    us = window.ts.astype("datetime64[us]").astype(np.int64)  # differences of integers: exact
    return float(np.median(np.diff(us))) / 1e6 if len(us) > 1 else 0.0


def to_grid(window: SensorWindow, step: float, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """(G, C) cell means on a grid of ``step`` seconds from the first reading, and (G,) cell times."""
    t = seconds(window.ts)
    cells = np.rint((t - t[0]) / step).astype(np.int64)
    n = int(cells[-1]) + 1
    values = window.values
    sums = np.zeros((n, values.shape[1]))
    counts = np.zeros((n, values.shape[1]))
    present = np.isfinite(values)
    np.add.at(sums, cells, np.where(present, values, 0.0))
    np.add.at(counts, cells, present)
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    grid = _fill_short_gaps(grid, max_gap)
    return grid, t[0] + step * np.arange(n)


def _fill_short_gaps(grid: np.ndarray, max_gap: int) -> np.ndarray:
    """Forward-fill runs of at most ``max_gap`` NaN cells per channel; longer runs stay NaN."""
    out = grid.copy()
    for c in range(grid.shape[1]):
        col = out[:, c]
        missing = np.isnan(col)
        if not missing.any() or max_gap == 0:
            continue
        index = np.where(~missing, np.arange(len(col)), -1)
        last = np.maximum.accumulate(index)
        gap = np.arange(len(col)) - last
        fill = missing & (last >= 0) & (gap <= max_gap)
        col[fill] = col[last[fill]]
    return out


def make_windows(window: SensorWindow, channels: tuple[str, ...], extra: tuple[str, ...], step: float,
                 max_gap: int, length: int, stride: int) -> AssetWindows | None:
    """Sliding windows of ``length`` grid cells every ``stride`` cells (None: too short an asset)."""
    missing = [c for c in (*channels, *extra) if c not in window.channels]
    if missing:
        msg = (f"asset {window.asset_name!r} has no readings of channel(s) {missing}; it has "
               f"{list(window.channels)}. Fix 'channels' / the label column in the spec.")
        raise InputDataError(msg)
    if len(window.ts) < 2:
        return None
    order = [window.channels.index(c) for c in (*channels, *extra)]
    picked = SensorWindow(window.asset_id, window.asset_name, (*channels, *extra), window.ts,
                          window.values[:, order])
    grid, times = to_grid(picked, step, max_gap)
    if len(grid) < length:
        return None
    ends = np.arange(length - 1, len(grid), stride)
    index = ends[:, None] - np.arange(length - 1, -1, -1)[None, :]
    data = grid[index].astype(np.float32)
    n_ch = len(channels)
    extras = {name: _last_valid(data[:, :, n_ch + j]) for j, name in enumerate(extra)}
    return AssetWindows(window.asset_name, channels, data[:, :, :n_ch], times[ends], float(times[0]),
                        float(seconds(window.ts)[-1]), extras, grid[:, :n_ch], times)


def _last_valid(values: np.ndarray) -> np.ndarray:
    """(N, T) -> (N,) the last finite value of each row (NaN if none)."""
    finite = np.isfinite(values)
    last = np.where(finite, np.arange(values.shape[1]), -1).max(1)
    out = np.full(len(values), np.nan)
    ok = last >= 0
    out[ok] = values[np.flatnonzero(ok), last[ok]]
    return out


def make_snapshots(window: SensorWindow, channels: tuple[str, ...], extra: tuple[str, ...], length: int,
                   gap: float) -> AssetWindows | None:
    """One window per burst of samples (a pause longer than ``gap`` seconds ends a burst): its first
    ``length`` samples; shorter bursts are dropped. ``grid`` holds each burst's mean (threshold rules
    read it), ``ends`` each burst's last sample time."""
    missing = [c for c in (*channels, *extra) if c not in window.channels]
    if missing:
        msg = (f"asset {window.asset_name!r} has no readings of channel(s) {missing}; it has "
               f"{list(window.channels)}. Fix 'channels' / the label column in the spec.")
        raise InputDataError(msg)
    t = seconds(window.ts)
    values = window.values[:, [window.channels.index(c) for c in (*channels, *extra)]]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(t) > gap) + 1])
    stops = np.concatenate([starts[1:], [len(t)]])
    keep = [(a, b) for a, b in zip(starts, stops, strict=True) if b - a >= length]
    if not keep:
        return None
    data = np.stack([values[a:a + length] for a, _ in keep]).astype(np.float32)
    data = np.stack([_fill_short_gaps(w.astype(np.float64), length) for w in data]).astype(np.float32)
    ends = np.array([t[b - 1] for _, b in keep])
    n_ch = len(channels)
    extras = {name: _last_valid(data[:, :, n_ch + j]) for j, name in enumerate(extra)}
    with np.errstate(invalid="ignore"):
        means = np.nanmean(data[:, :, :n_ch], axis=1)
    return AssetWindows(window.asset_name, channels, data[:, :, :n_ch], ends, float(t[0]), float(t[-1]), extras,
                        means, ends)


def burst_spacing(window: SensorWindow) -> float:
    """The median spacing of samples inside bursts (seconds): the snapshot's sample period."""
    d = np.diff(window.ts.astype("datetime64[us]").astype(np.int64))
    return float(np.median(d[d > 0])) / 1e6 if (d > 0).any() else 0.0
