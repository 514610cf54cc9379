"""Targets for windows, from what plants have: failure events, threshold rules, end times, label
columns and files, event codes, normal periods.

Every function maps one asset's windows to :class:`Labels`: a target per window and which windows
have one. RUL is in seconds here (the job converts it to the spec's unit); a window after which the
asset never fails is right-censored: ``observed`` False, ``targets`` the time to its last reading.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from plantpulse.data.core.errors import InputDataError
from plantpulse.pipelines.fit.spec import FitSpec, threshold_rule
from plantpulse.pipelines.fit.windows import AssetWindows


@dataclass(frozen=True)
class Event:
    """A maintenance-log event of one asset: seconds since the epoch, kind, and its code or, without
    one, the component it names (:func:`plantpulse.model.log_features.event_code`)."""

    ts: float
    kind: str
    code: str | None


@dataclass(frozen=True)
class Labels:
    """(N,) per window: ``targets`` (RUL seconds, class name, or is-normal), ``keep`` (has a target),
    ``observed`` (RUL: the end of life is known; else True)."""

    targets: np.ndarray
    keep: np.ndarray
    observed: np.ndarray


def _time(text: str, where: str) -> float:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as err:
        raise InputDataError(f"{where}: {text!r} is not an ISO 8601 time (e.g. 2024-03-01T12:00:00Z).") from err
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def read_table(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a small CSV label file that has (at least) the ``required`` columns."""
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as err:
        raise InputDataError(f"Cannot read label file {path}: {err}.") from err
    header = set(rows[0]) if rows else set()
    missing = [c for c in required if c not in header]
    if missing:
        msg = f"{path}: missing column(s) {missing}; the header has {sorted(header)}."
        raise InputDataError(msg)
    return rows


def rul_from_ends(aw: AssetWindows, ends: list[float], drop_after_last: bool, strictly_after: bool = False
                  ) -> Labels:
    """Time from each window's end to the next end of life (at or after it; ``strictly_after``:
    after it). After the last one (or with none) the window is censored at the asset's last
    reading, or dropped when ``drop_after_last``."""
    eol = np.sort(np.asarray(ends, dtype=float))
    nxt = np.searchsorted(eol, aw.ends, side="right" if strictly_after else "left")
    observed = nxt < len(eol)
    target = aw.last - aw.ends
    if len(eol):
        target = np.where(observed, eol[np.minimum(nxt, len(eol) - 1)] - aw.ends, target)
    keep = observed.copy() if drop_after_last and len(eol) else np.ones(len(observed), bool)
    return Labels(target.astype(float), keep, observed)


def failure_events(spec: FitSpec, aw: AssetWindows, events: list[Event]) -> Labels:
    """RUL to the next failure event strictly after each window's end: an event at the end is the
    past, which the log inputs (text, log features) may already show, e.g. the repair logged with it."""
    hits = [e.ts for e in events if (spec.failure_kind is None or e.kind == spec.failure_kind)
            and (spec.failure_code is None or e.code == spec.failure_code)]
    return rul_from_ends(aw, hits, drop_after_last=False, strictly_after=True)


def threshold(spec: FitSpec, aw: AssetWindows) -> Labels:
    channel, op, value = threshold_rule(spec.threshold or "")
    col = aw.grid[:, aw.channels.index(channel)]
    with np.errstate(invalid="ignore"):
        crossed = col >= value if op == ">=" else col <= value
    first = np.flatnonzero(crossed)
    ends = [float(aw.grid_ends[first[0]])] if len(first) else []
    return rul_from_ends(aw, ends, drop_after_last=True)


def end_times(spec: FitSpec, aw: AssetWindows) -> Labels:
    rows = read_table(spec.end_times or Path(), ("asset", "end_time"))
    ends = [_time(r["end_time"], f"{spec.end_times}: asset {r['asset']}") for r in rows if r["asset"] == aw.asset]
    return rul_from_ends(aw, ends, drop_after_last=True)


def label_column(spec: FitSpec, aw: AssetWindows) -> Labels:
    values = aw.extra[spec.label_column or ""]
    keep = np.isfinite(values)
    names = np.array([f"{v:g}" if np.isfinite(v) else "" for v in values], dtype=object)
    return Labels(names, keep, np.ones(len(values), bool))


def label_file(spec: FitSpec, aw: AssetWindows) -> Labels:
    rows = read_table(spec.label_file or Path(), ("asset", "class"))
    mine = [r for r in rows if r["asset"] == aw.asset]
    out = np.full(len(aw.ends), "", dtype=object)
    for r in mine:
        if r.get("start") and r.get("end"):
            where = f"{spec.label_file}: asset {aw.asset}"
            inside = (aw.ends >= _time(r["start"], where)) & (aw.ends <= _time(r["end"], where))
            out[inside] = r["class"]
        else:
            out[:] = r["class"]
    return Labels(out, out != "", np.ones(len(out), bool))


def event_codes(spec: FitSpec, aw: AssetWindows, events: list[Event]) -> Labels:
    """The code of the next coded event (of kind ``failure_kind`` when given, so the error and
    maintenance codes of the same log are not classes) strictly after each window's end (as
    :func:`failure_events`) within the horizon, else the normal class."""
    coded = sorted((e.ts, e.code) for e in events if e.code and (not spec.codes or e.code in spec.codes)
                   and (spec.failure_kind is None or e.kind == spec.failure_kind))
    times = np.array([t for t, _ in coded], dtype=float)
    codes = np.array([c for _, c in coded], dtype=object)
    out = np.full(len(aw.ends), spec.normal_class, dtype=object)
    if len(times):
        nxt = np.searchsorted(times, aw.ends, side="right")
        soon = nxt < len(times)
        soon[soon] = times[nxt[soon]] - aw.ends[soon] <= spec.horizon_hours * 3600
        out[soon] = codes[nxt[soon]]
    return Labels(out, np.ones(len(out), bool), np.ones(len(out), bool))


def normal_period(spec: FitSpec, aw: AssetWindows) -> Labels:
    if spec.normal_fraction is not None:
        normal = aw.ends <= aw.first + spec.normal_fraction * (aw.last - aw.first)
    else:
        start = spec.normal_start.timestamp() if spec.normal_start else -np.inf
        end = spec.normal_end.timestamp() if spec.normal_end else np.inf
        normal = (aw.ends >= start) & (aw.ends <= end)
    return Labels(normal, np.ones(len(normal), bool), np.ones(len(normal), bool))


def label(spec: FitSpec, aw: AssetWindows, events: list[Event]) -> Labels:
    """The targets of one asset's windows by the spec's label source."""
    source = spec.source
    if source == "failure_events":
        return failure_events(spec, aw, events)
    if source == "event_codes":
        return event_codes(spec, aw, events)
    fn = {"threshold": threshold, "end_times": end_times, "label_column": label_column,
          "label_file": label_file, "normal_fraction": normal_period, "normal_dates": normal_period}[source]
    return fn(spec, aw)
