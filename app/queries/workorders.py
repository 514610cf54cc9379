"""Work-order delivery to the webhook: how many are delivered, waiting or refused, and which."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from plantpulse.app.queries.sql import database
from plantpulse.data.store.schema import Alert, Asset

UNDELIVERED = ("pending", "refused")
COLUMNS = ["alert_id", "asset", "rule", "severity", "created_at", "delivery_status", "delivery_attempts",
           "delivery_error"]


@st.cache_data(ttl=5, show_spinner=False)
def counts(url: str) -> dict[str, int]:
    """Work orders per delivery status (alerts opened without a webhook are not counted)."""
    query = (select(Alert.delivery_status, func.count()).where(Alert.delivery_status.is_not(None))
             .group_by(Alert.delivery_status))
    with database(url).session() as session:
        return {status: int(n) for status, n in session.execute(query)}


@st.cache_data(ttl=5, show_spinner=False)
def undelivered(url: str, limit: int = 200) -> pd.DataFrame:
    """The work orders still waiting (pending) or refused by the receiver, oldest first."""
    query = (select(Alert.id.label("alert_id"), Asset.name.label("asset"), Alert.rule, Alert.severity,
                    Alert.created_at, Alert.delivery_status, Alert.delivery_attempts, Alert.delivery_error)
             .outerjoin(Asset, Asset.id == Alert.asset_id).where(Alert.delivery_status.in_(UNDELIVERED))
             .order_by(Alert.id).limit(limit))
    with database(url).session() as session:
        return pd.DataFrame(session.execute(query).mappings().all(), columns=COLUMNS)


def clear() -> None:
    counts.clear()
    undelivered.clear()
