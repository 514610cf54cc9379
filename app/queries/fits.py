"""What the training tab offers and shows: asset types, their channels and logged event kinds/codes
(the form's choices), and the fit runs' reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from plantpulse.app.queries import asset as asset_q
from plantpulse.app.queries.models import read_json
from plantpulse.app.queries.sql import database
from plantpulse.data.store.schema import Asset, MaintenanceEvent

CHANNEL_ASSETS = 20  # assets of a type whose recent readings name the channels offered


@st.cache_data(ttl=60, show_spinner=False)
def asset_types(url: str) -> list[str]:
    with database(url).session() as session:
        return list(session.scalars(select(Asset.asset_type).distinct().order_by(Asset.asset_type)))


@st.cache_data(ttl=60, show_spinner=False)
def type_channels(url: str, asset_type: str) -> list[str]:
    """Channels in the recent readings of (up to ``CHANNEL_ASSETS``) assets of ``asset_type``."""
    with database(url).session() as session:
        ids = list(session.scalars(select(Asset.id).where(Asset.asset_type == asset_type)
                                   .order_by(Asset.name).limit(CHANNEL_ASSETS)))
    names: set[str] = set()
    for asset_id in ids:
        names |= set(asset_q.channels(url, asset_id)["name"])
    return sorted(names)


@st.cache_data(ttl=60, show_spinner=False)
def type_events(url: str, asset_type: str) -> pd.DataFrame:
    """Logged maintenance events of the type's assets by ``kind`` and ``code`` with their ``count``."""
    query = (select(MaintenanceEvent.kind, MaintenanceEvent.code, func.count().label("count"))
             .join(Asset, Asset.id == MaintenanceEvent.asset_id).where(Asset.asset_type == asset_type)
             .group_by(MaintenanceEvent.kind, MaintenanceEvent.code)
             .order_by(MaintenanceEvent.kind, MaintenanceEvent.code))
    with database(url).session() as session:
        return pd.DataFrame(session.execute(query).mappings().all(), columns=["kind", "code", "count"])


def report(path: str | None) -> dict[str, Any] | None:
    """A finished fit's ``fit-report.json`` (None when it is gone or was never written)."""
    if not path or not Path(path).is_file():
        return None
    data = read_json(path, Path(path).stat().st_mtime)
    return data if isinstance(data, dict) else None


def clear() -> None:
    asset_types.clear()
    type_channels.clear()
    type_events.clear()


def metric_table(report: dict[str, Any]) -> pd.DataFrame:
    """The held-out metrics side by side: a row per numeric metric (the headline first), a column
    per learner (titled as in the report)."""
    metrics: dict[str, dict[str, Any]] = report.get("metrics") or {}
    titles = report.get("titles") or {}
    head = (report.get("headline") or {}).get("metric")
    names = sorted({m for values in metrics.values() for m, v in values.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)}, key=lambda m: (m != head, m))
    return pd.DataFrame({"metric": names, **{titles.get(kind, kind): [values.get(m) for m in names]
                                             for kind, values in metrics.items()}})
