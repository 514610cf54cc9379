"""Queries for one asset: its channels, time-bucketed sensor history, predictions, maintenance.

Sensor history is aggregated in SQL into at most a few hundred buckets per channel (mean, min,
max, count), so a year of 1 Hz data reaches the browser as a few thousand numbers.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from plantpulse.app.queries.sql import bucket_us, database, epoch_us
from plantpulse.data.core.times import from_micros
from plantpulse.data.store.schema import (
    Asset,
    Channel,
    MaintenanceEvent,
    ModelVersion,
    Prediction,
    SensorReading,
)

CACHE_TTL_S = 10
RECENT_ROWS = 5000  # rows scanned to find which channels an asset reports


# from 1 ms, so that a second of vibration sampled at kHz rates still spreads over many buckets
NICE_WIDTHS_S = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10_800,
                 21_600, 43_200, 86_400, 7 * 86_400)


def nice_width(raw_us: int) -> int:
    """The smallest round bucket width (1 ms, 5 ms, … 1 s, 5 s, … 1 h, 6 h, 1 d, 1 week) of at least ``raw_us``."""
    for seconds in NICE_WIDTHS_S:
        if round(seconds * 1_000_000) >= raw_us:
            return round(seconds * 1_000_000)
    weeks = -(-raw_us // (NICE_WIDTHS_S[-1] * 1_000_000))
    return int(weeks * NICE_WIDTHS_S[-1] * 1_000_000)


@st.cache_data(ttl=60, show_spinner=False)
def asset_names(url: str) -> list[str]:
    with database(url).session() as session:
        return list(session.scalars(select(Asset.name).order_by(Asset.name)))


@st.cache_data(ttl=60, show_spinner=False)
def asset_info(url: str, name: str) -> dict[str, Any] | None:
    with database(url).session() as session:
        asset = session.scalar(select(Asset).where(Asset.name == name))
        if asset is None:
            return None
        return {"id": asset.id, "name": asset.name, "asset_type": asset.asset_type,
                "site": asset.site, "line": asset.line, "model": asset.model,
                "attributes": dict(asset.attributes or {})}


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def time_span(url: str, asset_id: int) -> tuple[int, int] | None:
    """First and last reading time of the asset in µs (two index lookups), or None."""
    db = database(url)
    ts = epoch_us(SensorReading.ts, db.dialect)
    with db.session() as session:
        first = session.scalar(select(func.min(ts)).where(SensorReading.asset_id == asset_id))
        last = session.scalar(select(func.max(ts)).where(SensorReading.asset_id == asset_id))
    return None if first is None else (int(first), int(last))


@st.cache_data(ttl=60, show_spinner=False)
def channels(url: str, asset_id: int) -> pd.DataFrame:
    """Channels seen in the asset's most recent readings: ``channel_id``, ``name``, ``unit``."""
    recent = (select(SensorReading.channel_id).where(SensorReading.asset_id == asset_id)
              .order_by(SensorReading.ts.desc()).limit(RECENT_ROWS).subquery())
    query = (select(Channel.id.label("channel_id"), Channel.name, Channel.unit)
             .where(Channel.id.in_(select(recent.c.channel_id).distinct())).order_by(Channel.name))
    with database(url).session() as session:
        return pd.DataFrame(session.execute(query).mappings().all(),
                            columns=["channel_id", "name", "unit"])


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def sensor_buckets(url: str, asset_id: int, channel_ids: tuple[int, ...], start_us: int, end_us: int,
                   buckets: int = 300) -> pd.DataFrame:
    """Per channel and time bucket: ``bucket`` (µs), ``channel_id``, ``mean``, ``min``, ``max``, ``n``."""
    db = database(url)
    width = nice_width((end_us - start_us) // max(buckets, 1) + 1)
    bucket = bucket_us(SensorReading.ts, width, db.dialect)
    value = SensorReading.value
    query = (select(bucket, SensorReading.channel_id, func.avg(value).label("mean"),
                    func.min(value).label("min"), func.max(value).label("max"),
                    func.count().label("n"))
             .where(SensorReading.asset_id == asset_id, SensorReading.channel_id.in_(channel_ids),
                    SensorReading.ts >= from_micros(start_us), SensorReading.ts <= from_micros(end_us))
             .group_by(bucket, SensorReading.channel_id).order_by(bucket))
    with db.session() as session:
        frame = pd.DataFrame(session.execute(query).all(),
                             columns=["bucket", "channel_id", "mean", "min", "max", "n"])
    frame.attrs["width_us"] = width
    return frame


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def predictions(url: str, asset_id: int, limit: int = 500) -> pd.DataFrame:
    """The asset's newest predictions (oldest first), with the model that made each."""
    query = (select(Prediction.id, Prediction.window_end, Prediction.rul_mean, Prediction.rul_lower,
                    Prediction.rul_upper, Prediction.rul_quantiles, Prediction.fault_probs,
                    Prediction.top_fault, Prediction.top_fault_prob, Prediction.anomaly_score,
                    Prediction.routing, ModelVersion.name.label("model_name"),
                    ModelVersion.version.label("model_version"), ModelVersion.kind.label("model_kind"),
                    ModelVersion.config.label("model_config"))
             .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
             .where(Prediction.asset_id == asset_id)
             .order_by(Prediction.window_end.desc(), Prediction.id.desc()).limit(limit))
    with database(url).session() as session:
        frame = pd.DataFrame(session.execute(query).mappings().all())
    return frame.iloc[::-1].reset_index(drop=True)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def maintenance(url: str, asset_id: int, limit: int = 1000) -> pd.DataFrame:
    """The asset's maintenance events, newest first, text verbatim."""
    query = (select(MaintenanceEvent.ts, MaintenanceEvent.kind, MaintenanceEvent.code,
                    MaintenanceEvent.component, MaintenanceEvent.text, MaintenanceEvent.action,
                    MaintenanceEvent.source)
             .where(MaintenanceEvent.asset_id == asset_id)
             .order_by(MaintenanceEvent.ts.desc()).limit(limit))
    with database(url).session() as session:
        return pd.DataFrame(session.execute(query).mappings().all(),
                            columns=["ts", "kind", "code", "component", "text", "action", "source"])
