"""Pure transformations behind the asset page: long tables for charts, routing shares, work orders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from plantpulse.app.widgets.timefmt import micros_to_utc, to_local_naive

RANGES = {"Last day": 1, "Last week": 7, "Last month": 30, "All data": None}
DAY_US = 86_400_000_000


def range_start(first_us: int, last_us: int, label: str) -> int:
    """Start (µs) of the chosen range, counted back from the asset's last reading."""
    days = RANGES[label]
    return first_us if days is None else max(first_us, last_us - days * DAY_US)


def sensor_long(buckets: pd.DataFrame, channels: pd.DataFrame, zone_name: str) -> pd.DataFrame:
    """Bucketed readings -> ``time`` (local), ``label`` ("name (unit)"), mean, min, max, n."""
    names = channels.set_index("channel_id")
    frame = buckets.copy()
    frame["time"] = to_local_naive(micros_to_utc(frame["bucket"]), zone_name).to_numpy()
    frame["label"] = [f"{names.at[c, 'name']} ({names.at[c, 'unit']})" if names.at[c, "unit"]
                      else str(names.at[c, "name"]) for c in frame["channel_id"]]
    return frame[["time", "label", "mean", "min", "max", "n"]]


def most_changed(buckets: pd.DataFrame, count: int) -> list[int]:
    """The ``count`` channel ids that drifted most over the buckets: |last quarter − first quarter|
    of the bucket means, in units of the channel's spread.

    Degrading sensors move; constant settings, stuck sensors and pure noise do not, so they are
    not what an engineer sees first.
    """
    scores = {}
    for channel, part in buckets.sort_values("bucket").groupby("channel_id"):
        means = part["mean"].to_numpy()
        quarter = max(1, len(means) // 4)
        spread = float(np.std(means))
        shift = abs(float(np.mean(means[-quarter:]) - np.mean(means[:quarter])))
        scores[int(channel)] = shift / spread if spread > 0 else 0.0
    return sorted(scores, key=lambda c: (-scores[c], c))[:count]


def anomaly_windows(preds: pd.DataFrame, threshold: float, zone_name: str) -> pd.DataFrame:
    """Spans (previous window end -> window end) whose anomaly score is above ``threshold``."""
    if preds.empty or preds["anomaly_score"].isna().all():
        return pd.DataFrame(columns=["start", "end", "score"])
    ends = to_local_naive(preds["window_end"], zone_name).reset_index(drop=True)
    starts = ends.shift(1).fillna(ends.iloc[0] - pd.Timedelta(hours=1))
    score = preds["anomaly_score"].reset_index(drop=True)
    hot = score > threshold
    return pd.DataFrame({"start": starts[hot], "end": ends[hot], "score": score[hot]})


def fault_long(preds: pd.DataFrame, zone_name: str, normal: tuple[str, ...] = ()) -> pd.DataFrame:
    """Fault probabilities over time in long form: ``time``, ``fault``, ``probability``.

    Classes listed in ``normal`` (no finding) are left out so the chart shows faults only.
    """
    rows = []
    times = to_local_naive(preds["window_end"], zone_name) if len(preds) else []
    for when, probs in zip(times, preds.get("fault_probs", []), strict=False):
        for fault, p in (probs or {}).items():
            if fault.lower() not in normal and p is not None:
                rows.append((when, fault, float(p)))
    return pd.DataFrame(rows, columns=["time", "fault", "probability"])


def routing_shares(routing: Mapping[str, Any] | None) -> pd.DataFrame:
    """A prediction's routing JSON as ``group``, ``name``, ``share`` (shares sum to 1 per group).

    Accepts ``{"modality": {"sensors": 0.8, ...}, "experts": {"e3": 0.4, ...}}``, lists of
    loads (``{"experts": [0.1, 0.3, ...]}``; named ``expert 0``, ``expert 1``, ...) and a flat
    ``{"sensors": 0.8, ...}``; a group's ``_shares`` suffix is dropped.
    """
    rows: list[tuple[str, str, float]] = []
    flat = {k: v for k, v in (routing or {}).items() if isinstance(v, int | float)}
    groups = {k: v for k, v in (routing or {}).items() if isinstance(v, dict | list)}
    if flat:
        groups["routing"] = flat
    for key, values in groups.items():
        group = key.removesuffix("_shares")  # the scorer's "modality_shares" / "expert_shares"
        items = values.items() if isinstance(values, dict) else enumerate(values)
        pairs = [(str(k), float(v)) for k, v in items if isinstance(v, int | float) and np.isfinite(v)]
        if "expert" in group:  # experts are numbered: "expert 3", not a bare "3"
            pairs = [(f"expert {k}" if k.isdigit() else k, v) for k, v in pairs]
        total = sum(v for _, v in pairs if v > 0)
        rows.extend((group, name, v / total) for name, v in pairs if total > 0 and v > 0)
    return pd.DataFrame(rows, columns=["group", "name", "share"])


def timeline_frame(events: pd.DataFrame, zone_name: str) -> pd.DataFrame:
    """Maintenance events for the time line: ``time`` (local), ``kind``, ``label``."""
    frame = events[events["ts"].notna()].copy()
    frame["time"] = to_local_naive(frame["ts"], zone_name).to_numpy()
    frame["label"] = [" · ".join(str(v) for v in (code, text) if v)
                      for code, text in zip(frame["code"], frame["text"], strict=True)]
    return frame[["time", "kind", "label"]]
