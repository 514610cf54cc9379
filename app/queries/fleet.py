"""Fleet-wide queries for the overview: one row per asset, the alert list, survival inputs.

Every per-asset figure is an index lookup (latest prediction through
``ix_predictions_asset_window``, first/last reading through the readings' primary key), so the
overview costs the same with ten thousand or ten million readings.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from plantpulse.app.queries.sql import database, severity_rank
from plantpulse.app.widgets import health
from plantpulse.data.store.schema import (
    Alert,
    Asset,
    MaintenanceEvent,
    ModelVersion,
    Prediction,
    SensorReading,
)

CACHE_TTL_S = 10
OPEN_STATUSES = ("open", "acknowledged")
FAILURE_KINDS = ("failure",)
DEFAULT_RUL_UNIT = "cycles"


def top_finding(probs: dict | None, normal: tuple[str, ...]) -> tuple[str | None, float | None]:
    """The most likely fault that is not a "normal" class (``alerts.normal_classes``)."""
    faults = {k: float(v) for k, v in (probs or {}).items()
              if v is not None and k.lower() not in normal}
    if not faults:
        return None, None
    name = max(faults, key=faults.__getitem__)
    return name, faults[name]


def rul_unit(asset_attributes: dict | None, model_config: dict | None) -> str:
    """The time unit of an asset's RUL: the asset's ``rul_unit``, else the model's, else cycles."""
    for source in (asset_attributes or {}, model_config or {}):
        unit = source.get("rul_unit") if isinstance(source, dict) else None
        if unit:
            return str(unit)
    return DEFAULT_RUL_UNIT


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fleet_table(url: str, normal: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per asset: identity, last data time, latest prediction, open alerts, health.

    ``top_fault``/``top_fault_prob`` are the most likely fault outside the ``normal`` classes.
    """
    latest = (select(Prediction.id).where(Prediction.asset_id == Asset.id)
              .order_by(Prediction.window_end.desc(), Prediction.id.desc()).limit(1)
              .correlate(Asset).scalar_subquery())
    last_ts = (select(func.max(SensorReading.ts)).where(SensorReading.asset_id == Asset.id)
               .correlate(Asset).scalar_subquery())
    alerts = (select(Alert.asset_id, func.count().label("open_alerts"),
                     func.max(severity_rank(Alert.severity)).label("worst_rank"))
              .where(Alert.status.in_(OPEN_STATUSES)).group_by(Alert.asset_id).subquery())
    query = (
        select(Asset.id.label("asset_id"), Asset.name.label("asset"), Asset.asset_type,
               Asset.site, Asset.line, Asset.attributes, last_ts.label("last_data"),
               Prediction.window_end, Prediction.rul_mean, Prediction.rul_lower,
               Prediction.rul_upper, Prediction.fault_probs,
               Prediction.anomaly_score, ModelVersion.name.label("model_name"),
               ModelVersion.version.label("model_version"), ModelVersion.config.label("model_config"),
               alerts.c.open_alerts, alerts.c.worst_rank)
        .outerjoin(Prediction, Prediction.id == latest)
        .outerjoin(ModelVersion, ModelVersion.id == Prediction.model_version_id)
        .outerjoin(alerts, alerts.c.asset_id == Asset.id)
        .order_by(Asset.site, Asset.line, Asset.name)
    )
    with database(url).session() as session:
        frame = pd.DataFrame(session.execute(query).mappings().all())
    if frame.empty:
        return frame
    tops = [top_finding(p, normal) for p in frame["fault_probs"]]
    frame["top_fault"] = [t[0] for t in tops]
    frame["top_fault_prob"] = [t[1] for t in tops]
    frame["open_alerts"] = frame["open_alerts"].fillna(0).astype(int)
    frame["worst_rank"] = frame["worst_rank"].fillna(0).astype(int)
    frame["state"] = [health.state(rank, pd.notna(end))
                      for rank, end in zip(frame["worst_rank"], frame["window_end"], strict=True)]
    frame["rul_unit"] = [rul_unit(a, c) for a, c in
                         zip(frame["attributes"], frame["model_config"], strict=True)]
    frame["model"] = [f"{n} v{int(v)}" if isinstance(n, str) else "" for n, v in
                      zip(frame["model_name"], frame["model_version"].fillna(0), strict=True)]
    return frame.drop(columns=["attributes", "model_config", "model_name", "model_version",
                               "fault_probs"])


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def alert_list(url: str, statuses: tuple[str, ...] = OPEN_STATUSES, asset_id: int | None = None,
               limit: int = 200) -> pd.DataFrame:
    """Alerts with the given statuses, open ones first, then worst severity, then newest."""
    rank = severity_rank(Alert.severity)
    query = (
        select(Alert.id, Asset.name.label("asset"), Alert.asset_id, Alert.rule, Alert.severity,
               rank.label("rank"), Alert.status, Alert.message, Alert.recommended_action,
               Alert.evidence, Alert.occurrences, Alert.created_at, Alert.updated_at,
               Alert.acknowledged_by, Alert.acknowledged_at)
        .outerjoin(Asset, Asset.id == Alert.asset_id)
        .where(Alert.status.in_(statuses))
        .order_by((Alert.status == "open").desc(), rank.desc(), Alert.updated_at.desc())
        .limit(limit)
    )
    if asset_id is not None:
        query = query.where(Alert.asset_id == asset_id)
    with database(url).session() as session:
        return pd.DataFrame(session.execute(query).mappings().all())


@st.cache_data(ttl=60, show_spinner=False)
def survival_inputs(url: str) -> tuple[dict[int, list[datetime]], dict[int, tuple[datetime, datetime]],
                                       dict[int, str]]:
    """Failure times per asset, each asset's (first, last) reading time and its type."""
    first = (select(func.min(SensorReading.ts)).where(SensorReading.asset_id == Asset.id)
             .correlate(Asset).scalar_subquery())
    last = (select(func.max(SensorReading.ts)).where(SensorReading.asset_id == Asset.id)
            .correlate(Asset).scalar_subquery())
    failures: dict[int, list[datetime]] = defaultdict(list)
    with database(url).session() as session:
        rows = session.execute(select(Asset.id, Asset.asset_type, first, last)).all()
        events = session.execute(
            select(MaintenanceEvent.asset_id, MaintenanceEvent.ts)
            .where(func.lower(MaintenanceEvent.kind).in_(FAILURE_KINDS),
                   MaintenanceEvent.asset_id.is_not(None), MaintenanceEvent.ts.is_not(None))
        ).all()
    for asset_id, ts in events:
        failures[asset_id].append(ts)
    spans = {asset_id: (lo, hi) for asset_id, _, lo, hi in rows if lo is not None}
    groups = {asset_id: kind for asset_id, kind, _, _ in rows}
    return dict(failures), spans, groups


def clear() -> None:
    """Forget cached fleet data after a write (an acknowledgement, a promotion)."""
    fleet_table.clear()
    alert_list.clear()
