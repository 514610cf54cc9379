"""Read an asset type's windows and labels from the database, one asset at a time."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import MaintenanceRecord
from plantpulse.data.store.repository import maintenance_log, readings_between
from plantpulse.data.store.schema import Asset, MaintenanceEvent
from plantpulse.data.store.types import as_utc
from plantpulse.model.log_features import LogFeatures, event_code
from plantpulse.pipelines.fit.labels import Event, label
from plantpulse.pipelines.fit.spec import FitSpec, threshold_rule
from plantpulse.pipelines.fit.windows import burst_spacing, make_snapshots, make_windows, median_step
from plantpulse.pipelines.score.texts import LogText, log_text

UNIT_SECONDS = {"seconds": 1.0, "hours": 3600.0}


@dataclass
class Collected:
    """Every labelled window of the asset type: ``x`` (N, T, C) raw (NaN = no reading), ``groups``
    asset names, ``ends`` seconds, ``targets`` (seconds / class name / is-normal), ``observed``,
    ``texts`` the asset's maintenance log up to each window's end (None: no event), ``logs`` each
    asset's whole dated log (for the log features, when the spec asks for them)."""

    channels: tuple[str, ...]
    step: float
    x: list[np.ndarray] = field(default_factory=list)
    groups: list[np.ndarray] = field(default_factory=list)
    ends: list[np.ndarray] = field(default_factory=list)
    targets: list[np.ndarray] = field(default_factory=list)
    observed: list[np.ndarray] = field(default_factory=list)
    texts: list[np.ndarray] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    logs: dict[str, list[MaintenanceRecord]] = field(default_factory=dict)  # asset name -> its dated log

    def arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(np.concatenate(parts) for parts in (self.x, self.groups, self.ends, self.targets, self.observed,
                                                         self.texts))


def assets_of_type(session: Session, asset_type: str) -> list[Asset]:
    found = list(session.scalars(select(Asset).where(Asset.asset_type == asset_type).order_by(Asset.name)))
    if not found:
        types = sorted(set(session.scalars(select(Asset.asset_type))))
        msg = (f"No asset of type {asset_type!r} in the database (types present: {types or 'none'}). "
               f"Ingest its readings with `plantpulse ingest sensors FILE --create-assets --asset-type {asset_type}`.")
        raise InputDataError(msg)
    return found


def _events(session: Session, asset_id: int) -> list[Event]:
    rows = session.execute(select(MaintenanceEvent.ts, MaintenanceEvent.kind, MaintenanceEvent.code,
                                  MaintenanceEvent.component)
                           .where(MaintenanceEvent.asset_id == asset_id, MaintenanceEvent.ts.is_not(None))).all()
    return [Event(as_utc(ts).timestamp(), kind, event_code(code, component)) for ts, kind, code, component in rows]


def window_texts(events: Sequence[MaintenanceRecord], ends: np.ndarray, logs: LogText) -> np.ndarray:
    """Per window end (seconds), the text scoring would give the network for it: the last
    ``logs.events`` events in ``(end - lookback, end]`` (:func:`plantpulse.pipelines.score.texts.log_text`);
    never an event after the end. (N,) object array of str or None."""
    out = np.full(len(ends), None, dtype=object)
    dated = [(e.ts.timestamp(), e) for e in events if e.ts is not None]
    if not dated or logs.events <= 0:
        return out
    times, kept = [t for t, _ in dated], [e for _, e in dated]
    lookback = logs.lookback.total_seconds()
    for i, end in enumerate(np.asarray(ends, dtype=float)):
        stop = bisect.bisect_right(times, end)
        start = max(bisect.bisect_right(times, end - lookback), stop - logs.events)
        if stop > start:
            out[i] = log_text(kept[start:stop], datetime.fromtimestamp(end, UTC))
    return out


@dataclass(frozen=True)
class LogTable:
    """The maintenance-log features of every row: how they are computed (``spec``, with the
    training standardisation) and their standardised (N, F) ``values``."""

    spec: LogFeatures
    values: np.ndarray


def log_feature_table(logs: dict[str, list[MaintenanceRecord]], groups: np.ndarray, ends: np.ndarray,
                      train: np.ndarray) -> LogTable | None:
    """The log features of every row, standardised on the ``train`` rows, and their spec; the
    subjects come from the training assets' events up to their last training window. None when
    the training part of the log has no subject (no coded event)."""
    cutoff: dict[str, float] = {}
    for g, end in zip(groups[train], ends[train], strict=True):
        cutoff[g] = max(cutoff.get(g, -np.inf), float(end))
    seen = [[e for e in logs.get(g, []) if e.ts is not None and e.ts.timestamp() <= last]
            for g, last in cutoff.items()]
    spec = LogFeatures.learn(seen)
    if spec is None:
        return None
    table = np.zeros((len(groups), len(spec.names)))
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        table[rows] = spec.raw(logs.get(g, []), ends[rows])
    spec = spec.fitted(table[train])
    return LogTable(spec, spec.standardise(table))


def _channels(spec: FitSpec, found: tuple[str, ...]) -> tuple[str, ...]:
    chosen = list(spec.channels) or [c for c in found if c != spec.label_column]
    if spec.threshold is not None:
        channel = threshold_rule(spec.threshold)[0]
        if channel not in chosen:
            chosen.append(channel)
    return tuple(chosen)


def collect(session: Session, spec: FitSpec, echo: Callable[[str], None]) -> Collected:
    """Windows and labels of every asset of ``spec.asset_type`` (one asset's readings in memory at a time)."""
    assets = assets_of_type(session, spec.asset_type)
    extra = (spec.label_column,) if spec.label_column else ()
    wanted = [*spec.channels, *extra] if spec.channels else None
    if wanted and spec.threshold:
        wanted.append(threshold_rule(spec.threshold)[0])
    out: Collected | None = None
    for i, asset in enumerate(assets, start=1):
        readings = readings_between(session, asset.id, channels=wanted)
        if len(readings.ts) < 2:
            echo(f"  asset {i}/{len(assets)} {asset.name}: fewer than 2 readings, skipped")
            continue
        if out is None:
            step = spec.step_seconds or (burst_spacing(readings) if spec.snapshots else median_step(readings))
            if step <= 0:
                raise InputDataError(f"asset {asset.name}: readings share one timestamp; set step_seconds in the spec.")
            out = Collected(_channels(spec, readings.channels), step)
        if spec.snapshots:
            aw = make_snapshots(readings, out.channels, extra, spec.window, spec.snapshot_gap_seconds or 10 * out.step)
        else:
            aw = make_windows(readings, out.channels, extra, out.step, spec.max_gap_steps, spec.window, spec.stride)
        if aw is None:
            out.skipped.append((asset.name, f"no burst / stretch of {spec.window} samples"))
            echo(f"  asset {i}/{len(assets)} {asset.name}: shorter than one window, skipped")
            continue
        labels = label(spec, aw, _events(session, asset.id) if spec.source in ("failure_events", "event_codes") else [])
        keep = labels.keep
        out.x.append(aw.windows[keep])
        out.groups.append(np.full(int(keep.sum()), asset.name, dtype=object))
        out.ends.append(aw.ends[keep])
        out.targets.append(labels.targets[keep])
        out.observed.append(labels.observed[keep])
        events = maintenance_log(session, asset.id) if spec.log_events or spec.log_features else []
        if spec.log_features:
            out.logs[asset.name] = events
        out.texts.append(window_texts(events, aw.ends[keep], LogText(spec.log_events, spec.log_lookback_days)))
        echo(f"  asset {i}/{len(assets)} {asset.name}: {len(readings.ts)} timestamps -> {int(keep.sum())} windows")
    if out is None or not out.x or sum(len(x) for x in out.x) == 0:
        raise InputDataError(f"No labelled window for asset type {spec.asset_type!r}: every asset is shorter than "
                             f"window={spec.window} grid steps or has no label. Lower 'window' or check the labels.")
    return out


def rul_unit(spec: FitSpec, step: float) -> tuple[str, float]:
    """The RUL unit and its length in seconds: the spec's, else hours for hourly-or-slower data,
    else seconds; "cycles" means one grid step."""
    unit = spec.rul_unit
    if unit == "auto":
        unit = "hours" if step >= 3600 else "seconds"
    return unit, (step if unit == "cycles" else UNIT_SECONDS[unit])
