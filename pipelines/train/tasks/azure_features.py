"""Engineered Azure PdM features at (machine, hour t), from information available at t only
(the gradient-boosting baseline's inputs; the log features are also the MoE's structured
channels when the task is built with ``log_channels=True``).

- telemetry (from the model's own 24 h standardised window): mean, sd, min, max and last-3 h
  mean of volt, rotate, pressure, vibration;
- error log: count of each error code in the last 24 h and the last 7 days;
- maintenance history: hours since each component was last replaced (any record up to t,
  from the maintenance table which starts in 2014), capped at 5000 h.
"""

from __future__ import annotations

import numpy as np

from plantpulse.data.datasets.azure_pdm import AzurePdmData, EventLog

HOUR = np.timedelta64(1, "h")
COMPONENTS: tuple[str, ...] = ("comp1", "comp2", "comp3", "comp4")
ERRORS: tuple[str, ...] = ("error1", "error2", "error3", "error4", "error5")
MAX_HOURS = 5000.0
LOG_FEATURES: tuple[str, ...] = (
    *(f"{code} count {span}" for span in ("24h", "7d") for code in ERRORS),
    *(f"hours since {comp} replaced" for comp in COMPONENTS),
)


TELEMETRY_STATS: tuple[str, ...] = ("mean", "sd", "min", "max", "last 3h mean")


def telemetry_feature_names(channels: tuple[str, ...]) -> tuple[str, ...]:
    """Names of :func:`telemetry_features`' columns, e.g. ``"volt mean 24h"``."""
    return tuple(f"{c} {stat} 24h" for stat in TELEMETRY_STATS for c in channels)


def telemetry_features(windows: np.ndarray) -> np.ndarray:
    """(N, T, 4) -> (N, 20): per channel mean, sd, min, max and last-3 h mean (stat-major)."""
    w = windows.astype(np.float64)
    return np.concatenate([w.mean(1), w.std(1), w.min(1), w.max(1), w[:, -3:].mean(1)], axis=1).astype(np.float32)


def _counts(log: EventLog, code: str, machine: np.ndarray, time: np.ndarray, span: np.timedelta64) -> np.ndarray:
    out = np.zeros(len(machine), dtype=np.float32)
    for m in np.unique(machine):
        events = np.sort(log.time[(log.machine == m) & (log.code == code)])
        rows = np.flatnonzero(machine == m)
        upto = np.searchsorted(events, time[rows], side="right")
        since = np.searchsorted(events, time[rows] - span, side="right")
        out[rows] = upto - since
    return out


def _hours_since(log: EventLog, code: str, machine: np.ndarray, time: np.ndarray) -> np.ndarray:
    out = np.full(len(machine), MAX_HOURS, dtype=np.float32)
    for m in np.unique(machine):
        events = np.sort(log.time[(log.machine == m) & (log.code == code)])
        rows = np.flatnonzero(machine == m)
        last = np.searchsorted(events, time[rows], side="right") - 1
        ok = last >= 0
        hours = (time[rows][ok] - events[last[ok]]) / HOUR
        out[rows[ok]] = np.minimum(hours, MAX_HOURS)
    return out


def log_features(data: AzurePdmData, machine: np.ndarray, time: np.ndarray) -> np.ndarray:
    """(N,) machines and times -> (N, 14): error counts (24 h, 7 d) and hours since replacement."""
    cols = []
    for span in (np.timedelta64(24, "h"), np.timedelta64(7, "D")):
        cols += [_counts(data.errors, code, machine, time, span) for code in ERRORS]
    cols += [_hours_since(data.maint, comp, machine, time) for comp in COMPONENTS]
    return np.stack(cols, axis=1)


FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "sensor+text": ("telemetry", "log"), "sensor": ("telemetry",), "text": ("log",),
}
