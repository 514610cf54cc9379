"""Read-only queries of the Data page: ingest batches, quarantined rows, OPC-UA intake status."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from plantpulse.app.queries.sql import database
from plantpulse.data.store.schema import Asset, Channel, IngestBatch, QuarantinedRow, SensorReading

CACHE_TTL_S = 5
OPCUA = "opcua"
QUARANTINE_COLUMNS = ["batch_id", "source", "line", "column", "reason", "raw", "created_at"]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def batches(url: str, limit: int = 200, connector: str | None = None) -> pd.DataFrame:
    """The newest ingest batches with their counts."""
    query = (select(IngestBatch.id, IngestBatch.connector, IngestBatch.source, IngestBatch.status,
                    IngestBatch.started_at, IngestBatch.finished_at, IngestBatch.rows_total,
                    IngestBatch.rows_loaded, IngestBatch.rows_duplicate, IngestBatch.rows_quarantined,
                    IngestBatch.error, IngestBatch.summary)
             .order_by(IngestBatch.id.desc()).limit(limit))
    if connector is not None:
        query = query.where(IngestBatch.connector == connector)
    with database(url).session() as session:
        return pd.DataFrame(session.execute(query).mappings().all())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def quarantined(url: str, batch_id: int, limit: int | None = None) -> pd.DataFrame:
    """Rejected rows of one batch in source order, with file, line, column, reason and raw text."""
    query = (select(QuarantinedRow.batch_id, QuarantinedRow.source, QuarantinedRow.line,
                    QuarantinedRow.column, QuarantinedRow.reason, QuarantinedRow.raw,
                    QuarantinedRow.created_at)
             .where(QuarantinedRow.batch_id == batch_id)
             .order_by(QuarantinedRow.line, QuarantinedRow.id))
    if limit is not None:
        query = query.limit(limit)
    with database(url).session() as session:
        return pd.DataFrame(session.execute(query).all(), columns=QUARANTINE_COLUMNS)


def quarantine_csv(frame: pd.DataFrame) -> bytes:
    """Quarantined rows as CSV (UTF-8 with BOM so spreadsheet programs read accents right)."""
    out = io.StringIO()
    frame.to_csv(out, index=False, lineterminator="\n")
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def opcua_intake(url: str, window_s: int = 3600) -> dict:
    """Last OPC-UA flush and what the last ``window_s`` seconds brought (loaded, quarantined)."""
    since = datetime.now(UTC) - timedelta(seconds=window_s)
    with database(url).session() as session:
        last = session.execute(
            select(IngestBatch.finished_at, IngestBatch.source).where(IngestBatch.connector == OPCUA)
            .order_by(IngestBatch.id.desc()).limit(1)).first()
        totals = session.execute(
            select(func.count(), func.coalesce(func.sum(IngestBatch.rows_loaded), 0),
                   func.coalesce(func.sum(IngestBatch.rows_quarantined), 0))
            .where(IngestBatch.connector == OPCUA, IngestBatch.started_at >= since)).one()
    return {"last_flush": last[0] if last else None, "endpoint": last[1] if last else None,
            "flushes": int(totals[0]), "loaded": int(totals[1]), "quarantined": int(totals[2])}


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def opcua_last_values(url: str, max_assets: int = 50) -> pd.DataFrame:
    """Latest value per channel of each asset whose newest reading came through OPC-UA.

    Two index lookups per asset (its newest reading's time and batch); assets fed by file
    uploads are left out.
    """
    def newest(column):
        return (select(column).where(SensorReading.asset_id == Asset.id)
                .order_by(SensorReading.ts.desc()).limit(1).correlate(Asset).scalar_subquery())

    heads = (select(Asset.id.label("asset_id"), Asset.name.label("asset"),
                    newest(SensorReading.ts).label("ts"), newest(SensorReading.batch_id).label("batch"))
             .subquery())
    query = (select(heads.c.asset_id, heads.c.asset, heads.c.ts)
             .join(IngestBatch, IngestBatch.id == heads.c.batch)
             .where(IngestBatch.connector == OPCUA).order_by(heads.c.asset).limit(max_assets))
    rows: list[tuple[Any, ...]] = []
    with database(url).session() as session:
        for asset_id, name, ts in session.execute(query).all():
            values = session.execute(
                select(Channel.name, Channel.unit, SensorReading.value, SensorReading.status,
                       SensorReading.ts)
                .join(Channel, Channel.id == SensorReading.channel_id)
                .where(SensorReading.asset_id == asset_id, SensorReading.ts == ts)
                .order_by(Channel.name)).all()
            rows.extend((name, *v) for v in values)
    return pd.DataFrame(rows, columns=["asset", "channel", "unit", "value", "status", "ts"])
