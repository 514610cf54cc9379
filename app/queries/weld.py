"""Read-only weld queries: the inspection gallery and reject counts for the p-chart.

Writes (reviews, promotions) go through ``plantpulse.pipelines.weld.service``; these reads are
kept here so the page does not import the detector (and torch) just to list inspections.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from plantpulse.app.queries.sql import database
from plantpulse.data.store.schema import Asset, ModelVersion, WeldImage, WeldInspection, WeldLabel

CACHE_TTL_S = 10
VERDICTS = ("pass", "reject")


def _latest_review():
    return (select(WeldLabel.inspection_id, func.max(WeldLabel.id).label("label_id"))
            .where(WeldLabel.source == "review", WeldLabel.inspection_id.is_not(None))
            .group_by(WeldLabel.inspection_id).subquery())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def inspections(url: str, verdict: str | None = None, unreviewed_only: bool = False,
                limit: int = 48, offset: int = 0, inspection_id: int | None = None) -> pd.DataFrame:
    """Newest inspections first with image, model and the latest review (if any)."""
    review = _latest_review()
    query = (
        select(WeldInspection.id.label("inspection_id"), WeldImage.id.label("image_id"),
               WeldImage.original_name.label("name"), WeldImage.storage_path, WeldImage.width,
               WeldImage.height, WeldImage.captured_at, WeldImage.shift, Asset.name.label("cell"),
               WeldInspection.verdict, WeldInspection.reject_score, WeldInspection.threshold,
               WeldInspection.boxes, WeldInspection.created_at,
               WeldInspection.model_version_id, ModelVersion.name.label("model_name"),
               ModelVersion.version.label("model_version"), WeldLabel.verdict.label("review_verdict"),
               WeldLabel.boxes.label("review_boxes"), WeldLabel.author.label("reviewed_by"))
        .join(WeldImage, WeldImage.id == WeldInspection.image_id)
        .join(ModelVersion, ModelVersion.id == WeldInspection.model_version_id)
        .outerjoin(Asset, Asset.id == WeldImage.asset_id)
        .outerjoin(review, review.c.inspection_id == WeldInspection.id)
        .outerjoin(WeldLabel, WeldLabel.id == review.c.label_id)
        .order_by(WeldInspection.created_at.desc(), WeldInspection.id.desc())
        .limit(limit).offset(offset)
    )
    if verdict in VERDICTS:
        query = query.where(WeldInspection.verdict == verdict)
    if unreviewed_only:
        query = query.where(review.c.label_id.is_(None))
    if inspection_id is not None:
        query = query.where(WeldInspection.id == inspection_id)
    with database(url).session() as session:
        return pd.DataFrame(session.execute(query).mappings().all())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def counts(url: str) -> dict[str, int]:
    """How many inspections there are, by verdict, and how many have been reviewed."""
    review = _latest_review()
    with database(url).session() as session:
        rows = session.execute(select(WeldInspection.verdict, func.count())
                               .group_by(WeldInspection.verdict)).all()
        reviewed = session.scalar(select(func.count()).select_from(review)) or 0
    out = {verdict: int(n) for verdict, n in rows}
    out["total"] = sum(out.values())
    out["reviewed"] = int(reviewed)
    return out


def clear() -> None:
    inspections.clear()
    counts.clear()
