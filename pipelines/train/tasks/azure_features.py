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
from plantpulse.model.log_features import MAX_HOURS, counts_within, hours_since_last
from plantpulse.pipelines.train.tasks.windows import WindowView, chunked

COMPONENTS: tuple[str, ...] = ("comp1", "comp2", "comp3", "comp4")
ERRORS: tuple[str, ...] = ("error1", "error2", "error3", "error4", "error5")
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


def _seconds(time: np.ndarray) -> np.ndarray:
    return (np.asarray(time, dtype="datetime64[s]") - np.datetime64(0, "s")) / np.timedelta64(1, "s")


def _per_machine(log: EventLog, code: str, machine: np.ndarray, time: np.ndarray, feature) -> np.ndarray:
    """``feature(sorted event seconds, end seconds)`` of one code's events, machine by machine."""
    out = np.zeros(len(machine), dtype=np.float32)
    for m in np.unique(machine):
        rows = np.flatnonzero(machine == m)
        events = np.sort(_seconds(log.time[(log.machine == m) & (log.code == code)]))
        out[rows] = feature(events, _seconds(time[rows]))
    return out


def _counts(log: EventLog, code: str, machine: np.ndarray, time: np.ndarray, span: np.timedelta64) -> np.ndarray:
    seconds = span / np.timedelta64(1, "s")
    return _per_machine(log, code, machine, time, lambda t, ends: counts_within(t, ends, seconds))


def _hours_since(log: EventLog, code: str, machine: np.ndarray, time: np.ndarray) -> np.ndarray:
    return _per_machine(log, code, machine, time, lambda t, ends: hours_since_last(t, ends, MAX_HOURS))


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


def baseline_features(data: AzurePdmData, windows: np.ndarray | WindowView, machine: np.ndarray, time: np.ndarray,
                      which: str = "sensor+text") -> np.ndarray:
    """The gradient-boosting baseline's (N, F) inputs for the modality set ``which`` (a key of
    :data:`FEATURE_SETS`): telemetry summaries of the (N, T, 4) ``windows``, then the log features."""
    parts = []
    if "telemetry" in FEATURE_SETS[which]:
        parts.append(chunked(windows, telemetry_features))
    if "log" in FEATURE_SETS[which]:
        parts.append(log_features(data, machine, time))
    return np.concatenate(parts, axis=1)
