"""Queries and writes the pipelines and the dashboard share.

Functions take a Session and work inside the caller's transaction; none of them commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, func, insert, literal_column, select, type_coerce, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import (
    AssetSpec,
    ChannelSpec,
    MaintenanceRecord,
    PredictionRow,
    Rejection,
    SensorWindow,
)
from plantpulse.data.core.times import as_utc, micros_to_datetime64, utcnow
from plantpulse.data.store.db import driver_connection
from plantpulse.data.store.safe_text import storable, storable_or_none
from plantpulse.data.store.schema import (
    Alert,
    Asset,
    Channel,
    IngestBatch,
    MaintenanceEvent,
    ModelVersion,
    Prediction,
    QuarantinedRow,
    SensorReading,
)

MAX_CHANNEL_ID = 32_767


# ---------------------------------------------------------------- assets and channels
def asset_ids(session: Session, names: Iterable[str]) -> dict[str, int]:
    """Ids of the named assets that exist (unknown names are simply absent)."""
    wanted = list(dict.fromkeys(names))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found |= dict(session.execute(select(Asset.name, Asset.id).where(Asset.name.in_(chunk))).all())
    return found


def ensure_assets(session: Session, specs: Iterable[AssetSpec]) -> dict[str, int]:
    """Ids of ``specs``, creating the assets that do not exist yet."""
    specs = {spec.name: spec for spec in specs}
    ids = asset_ids(session, specs)
    for name, spec in specs.items():
        if name not in ids:
            asset = Asset(name=name, asset_type=spec.asset_type, site=spec.site, line=spec.line,
                          model=spec.model, attributes=dict(spec.attributes))
            session.add(asset)
            session.flush()
            ids[name] = asset.id
    return ids


def ensure_channels(session: Session, specs: Iterable[ChannelSpec]) -> dict[str, int]:
    """Ids of ``specs``, creating new channels; a known channel with another unit is an error."""
    specs = list(specs)
    known = {c.name: c for c in session.scalars(select(Channel).where(Channel.name.in_([s.name for s in specs])))}
    ids: dict[str, int] = {}
    for spec in specs:
        channel = known.get(spec.name)
        if channel is None:
            channel = Channel(name=spec.name, unit=spec.unit)
            session.add(channel)
            session.flush()
            if channel.id > MAX_CHANNEL_ID:
                msg = f"Too many channels: readings store channel ids as int16 (max {MAX_CHANNEL_ID})."
                raise InputDataError(msg)
            known[spec.name] = channel
        elif spec.unit and channel.unit and spec.unit != channel.unit:
            msg = (
                f"Channel {spec.name!r} is stored in {channel.unit!r} but the input says "
                f"{spec.unit!r}. Convert the values or map the column to another channel name."
            )
            raise InputDataError(msg)
        ids[spec.name] = channel.id
    return ids


# ---------------------------------------------------------------- ingest batches
def find_committed_batch(session: Session, connector: str, sha256: str) -> IngestBatch | None:
    return session.scalar(
        select(IngestBatch).where(
            IngestBatch.connector == connector,
            IngestBatch.content_sha256 == sha256,
            IngestBatch.status == "committed",
        )
    )


def quarantine(session: Session, batch_id: int, rejections: Sequence[Rejection]) -> int:
    """Store rejected rows with their reasons; returns how many were stored."""
    if not rejections:
        return 0
    now = utcnow()
    rows = [  # input text may hold NUL or lone surrogates: stored escaped, never failing the batch
        {"batch_id": batch_id, "source": storable(r.source)[:512], "line": r.line,
         "column": storable_or_none(r.column), "reason": storable(r.reason), "raw": storable(r.raw),
         "created_at": now}
        for r in rejections
    ]
    session.execute(insert(QuarantinedRow), rows)
    return len(rows)


# ---------------------------------------------------------------- readings
def last_reading_times(session: Session) -> dict[int, datetime]:
    """Latest reading time of every asset that has readings (index lookups, not a scan)."""
    latest = (
        select(func.max(SensorReading.ts)).where(SensorReading.asset_id == Asset.id).scalar_subquery()
    )
    rows = session.execute(select(Asset.id, latest.label("ts"))).all()
    return {asset_id: ts for asset_id, ts in rows if ts is not None}


def _pivot(asset: Asset, rows: Sequence[tuple[int, int, float]] | np.ndarray,
           names: dict[int, str]) -> SensorWindow:
    """(ts_us, channel_id, value) rows (or an (N, 3) array) -> a SensorWindow, one column per channel."""
    if len(rows) == 0:
        return SensorWindow(asset.id, asset.name, (), np.empty(0, "datetime64[us]"), np.empty((0, 0)))
    arr = np.asarray(rows, dtype=np.float64)
    ts = arr[:, 0].astype(np.int64)
    channel = arr[:, 1].astype(np.int64)
    uniq_ts, t_index = np.unique(ts, return_inverse=True)
    uniq_ch, c_index = np.unique(channel, return_inverse=True)
    values = np.full((uniq_ts.shape[0], uniq_ch.shape[0]), np.nan)
    values[t_index, c_index] = arr[:, 2]
    return SensorWindow(
        asset_id=asset.id, asset_name=asset.name, channels=tuple(names[int(c)] for c in uniq_ch),
        ts=micros_to_datetime64(uniq_ts), values=values,
    )


def _ts_us(session: Session, column: Any) -> Any:
    """SQL expression for a UTCDateTime column in µs since the epoch, on either engine."""
    if session.get_bind().dialect.name == "postgresql":
        return func.floor(func.extract("epoch", column) * 1_000_000).cast(BigInteger)
    return type_coerce(column, BigInteger)  # SQLite stores µs already; skip the datetime decoding


def readings_between(
    session: Session, asset_id: int, start: datetime | None = None, end: datetime | None = None,
    channels: Sequence[str] | None = None,
) -> SensorWindow:
    """All readings of one asset with ``start <= ts <= end`` (either bound optional)."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        msg = f"No asset with id {asset_id}."
        raise InputDataError(msg)
    names: dict[int, str] = dict(session.execute(select(Channel.id, Channel.name)).all())
    query = select(_ts_us(session, SensorReading.ts), SensorReading.channel_id, SensorReading.value).where(
        SensorReading.asset_id == asset_id
    )
    if start is not None:
        query = query.where(SensorReading.ts >= as_utc(start))
    if end is not None:
        query = query.where(SensorReading.ts <= as_utc(end))
    if channels is not None:
        wanted = [cid for cid, name in names.items() if name in set(channels)]
        query = query.where(SensorReading.channel_id.in_(wanted))
    rows = session.execute(query.order_by(SensorReading.ts)).all()
    return _pivot(asset, rows, names)


def latest_window(session: Session, asset_id: int, length: int,
                  channels: Sequence[str] | None = None) -> SensorWindow:
    """The last ``length`` timestamps of one asset (fewer if it has fewer)."""
    cutoff = (
        select(SensorReading.ts)
        .where(SensorReading.asset_id == asset_id)
        .distinct()
        .order_by(SensorReading.ts.desc())
        .offset(length - 1)
        .limit(1)
    )
    start = session.scalar(cutoff)
    return readings_between(session, asset_id, start=start, channels=channels)


def _since_us(session: Session, start_us: int) -> Any:
    """``SensorReading.ts >= start_us`` with an integer literal, index-friendly on both engines."""
    if session.get_bind().dialect.name == "postgresql":
        return SensorReading.ts >= literal_column("timestamptz 'epoch'") + start_us * literal_column(
            "interval '1 microsecond'")
    return type_coerce(SensorReading.ts, BigInteger) >= start_us


def _raw_rows(session: Session, statement: Any) -> list[tuple[Any, ...]]:
    """Rows of an all-integer-parameter statement straight from the driver (no Row objects)."""
    connection = session.connection()
    sql = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor = driver_connection(connection).cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def latest_windows(session: Session, asset_ids: Sequence[int], length: int,
                   channels: Sequence[str] | None = None) -> dict[int, SensorWindow]:
    """:func:`latest_window` of many assets in two queries per 200 assets (not three per asset).

    First each asset's window start, then one index range scan per asset, joined by UNION ALL
    and read straight from the driver: scoring reads a few hundred thousand values per batch.
    Assets without readings get an empty window.
    """
    names: dict[int, str] = dict(session.execute(select(Channel.id, Channel.name)).all())
    wanted = None if channels is None else [cid for cid, name in names.items() if name in set(channels)]
    out: dict[int, SensorWindow] = {}
    for start in range(0, len(asset_ids), 200):
        chunk = [int(a) for a in asset_ids[start : start + 200]]
        assets = {a.id: a for a in session.scalars(select(Asset).where(Asset.id.in_(chunk)))}
        earlier = aliased(SensorReading)
        cutoff = (select(earlier.ts).where(earlier.asset_id == Asset.id).distinct().order_by(earlier.ts.desc())
                  .offset(length - 1).limit(1).correlate(Asset).scalar_subquery())
        starts: dict[int, int | None] = dict(
            session.execute(select(Asset.id, _ts_us(session, cutoff)).where(Asset.id.in_(chunk))).all())
        parts = []
        for asset_id in chunk:
            part = select(SensorReading.asset_id, _ts_us(session, SensorReading.ts), SensorReading.channel_id,
                          SensorReading.value).where(SensorReading.asset_id == asset_id)
            since = starts.get(asset_id)
            if since is not None:
                part = part.where(_since_us(session, int(since)))
            if wanted is not None:
                part = part.where(SensorReading.channel_id.in_(wanted))
            parts.append(part)
        found = _raw_rows(session, union_all(*parts))
        # (N, 4) asset, ts_us, channel, value: float64 holds µs timestamps exactly (< 2**53)
        table = np.fromiter(chain.from_iterable(found), np.float64, count=4 * len(found)).reshape(-1, 4)
        table = table[np.lexsort((table[:, 1], table[:, 0]))]
        keys = np.asarray(chunk, dtype=np.float64)
        lows, highs = np.searchsorted(table[:, 0], keys, "left"), np.searchsorted(table[:, 0], keys, "right")
        out |= {a: _pivot(assets[a], table[lo:hi, 1:], names)
                for a, lo, hi in zip(chunk, lows, highs, strict=True) if a in assets}
    return out


def maintenance_before(session: Session, ends: Mapping[int, datetime], lookback: timedelta,
                       limit: int) -> dict[int, list[MaintenanceRecord]]:
    """Per asset id, its last ``limit`` maintenance events in ``(end - lookback, end]``, oldest first.

    Bounded in time on both sides: an event after ``end`` (later than the window scored) is never
    returned, so a prediction cannot see the future. Events without a timestamp are left out.
    """
    out: dict[int, list[MaintenanceRecord]] = {}
    if limit <= 0:
        return {asset_id: [] for asset_id in ends}
    for asset_id, end in ends.items():
        end = as_utc(end)
        rows = session.execute(
            select(MaintenanceEvent, Asset.name).join(Asset, Asset.id == MaintenanceEvent.asset_id)
            .where(MaintenanceEvent.asset_id == asset_id, MaintenanceEvent.ts.is_not(None),
                   MaintenanceEvent.ts <= end, MaintenanceEvent.ts > end - lookback)
            .order_by(MaintenanceEvent.ts.desc(), MaintenanceEvent.id.desc()).limit(limit)).all()
        out[asset_id] = [_maintenance_record(e, name) for e, name in reversed(rows)]
    return out


def maintenance_log(session: Session, asset_id: int) -> list[MaintenanceRecord]:
    """The asset's whole time-stamped maintenance log, oldest first (events without a timestamp
    are left out); what training reads to give each window the text scoring would give it."""
    rows = session.execute(
        select(MaintenanceEvent, Asset.name).join(Asset, Asset.id == MaintenanceEvent.asset_id)
        .where(MaintenanceEvent.asset_id == asset_id, MaintenanceEvent.ts.is_not(None))
        .order_by(MaintenanceEvent.ts, MaintenanceEvent.id)).all()
    return [_maintenance_record(e, name) for e, name in rows]


def _maintenance_record(event: MaintenanceEvent, asset_name: str) -> MaintenanceRecord:
    return MaintenanceRecord(source=event.source, external_id=event.external_id, kind=event.kind, text=event.text,
                             asset=asset_name, ts=event.ts, code=event.code, component=event.component,
                             action=event.action)


# ---------------------------------------------------------------- models, predictions, alerts
def register_model_version(session: Session, *, name: str, kind: str, path: str, task: str = "",
                           metrics: dict[str, Any] | None = None, config: dict[str, Any] | None = None,
                           data_fingerprint: str = "", sha256: str = "") -> ModelVersion:
    """Add the next version of model ``name`` as a candidate."""
    latest = session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.name == name))
    version = ModelVersion(
        name=name, version=(latest or 0) + 1, kind=kind, task=task, stage="candidate", path=path,
        sha256=sha256, metrics=metrics or {}, config=config or {}, data_fingerprint=data_fingerprint,
    )
    session.add(version)
    session.flush()
    return version


def promote_model_version(session: Session, version_id: int) -> ModelVersion:
    """Make ``version_id`` the production version of its name; the previous one is archived."""
    chosen = session.get(ModelVersion, version_id)
    if chosen is None:
        msg = f"No model version with id {version_id}."
        raise InputDataError(msg)
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.name == chosen.name, ModelVersion.stage == "production")
        .values(stage="archived")
    )
    chosen.stage, chosen.promoted_at = "production", utcnow()
    session.flush()
    return chosen


def current_model_version(session: Session, name: str) -> ModelVersion | None:
    """The production version of ``name``, else its newest candidate."""
    query = select(ModelVersion).where(ModelVersion.name == name)
    production = session.scalar(query.where(ModelVersion.stage == "production"))
    return production or session.scalar(query.order_by(ModelVersion.version.desc()).limit(1))


def upsert_predictions(session: Session, rows: Sequence[PredictionRow]) -> int:
    """Insert predictions, skipping any (asset, window end, model) already stored."""
    if not rows:
        return 0
    values = []
    for row in rows:
        p = row.prediction
        top, prob = p.top_fault
        values.append({
            "asset_id": row.asset_id, "window_end": as_utc(row.window_end),
            "model_version_id": row.model_version_id, "rul_mean": p.rul_mean,
            "rul_lower": p.rul_lower, "rul_upper": p.rul_upper, "rul_quantiles": p.rul_quantiles,
            "fault_probs": p.fault_probs, "top_fault": top, "top_fault_prob": prob,
            "anomaly_score": p.anomaly_score, "routing": p.routing, "created_at": utcnow(),
        })
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Prediction)
        .on_conflict_do_nothing(index_elements=["asset_id", "window_end", "model_version_id"])
        .returning(Prediction.id)
    )
    return len(session.connection().execute(statement, values).all())


def raise_alert(session: Session, *, rule: str, severity: str, message: str, dedupe_key: str,
                asset_id: int | None = None, evidence: dict[str, Any] | None = None,
                recommended_action: str = "", prediction_id: int | None = None) -> Alert:
    """Open an alert, or refresh the open one with the same ``dedupe_key``."""
    alert = session.scalar(
        select(Alert).where(Alert.dedupe_key == dedupe_key, Alert.status.in_(("open", "acknowledged")))
    )
    if alert is not None:
        alert.occurrences += 1
        alert.updated_at = utcnow()
        alert.message, alert.evidence = message, evidence or {}
        alert.prediction_id = prediction_id or alert.prediction_id
        return alert
    alert = Alert(rule=rule, severity=severity, message=message, dedupe_key=dedupe_key,
                  asset_id=asset_id, evidence=evidence or {}, recommended_action=recommended_action,
                  prediction_id=prediction_id)
    session.add(alert)
    session.flush()
    return alert


def acknowledge_alert(session: Session, alert_id: int, user: str) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        msg = f"No alert with id {alert_id}."
        raise InputDataError(msg)
    if alert.status == "open":
        alert.status, alert.acknowledged_by, alert.acknowledged_at = "acknowledged", user, utcnow()
    return alert
