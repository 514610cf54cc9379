"""Removing an ingest batch: what it stored goes with it, in one transaction, or nothing does.

``plantpulse db batches delete N`` and ``ingest ... --replace`` both come here. A batch's
readings, maintenance events, weld images (with their imported labels and class labels) and
quarantined rows are deleted together with its ``ingest_batches`` row. It is refused, naming what is in the way, when
something else depends on what the batch stored:

- a weld image of the batch has a model inspection or an engineer's review;
- a later batch of the same kind skipped rows as duplicates of stored ones (for sensors: in an
  overlapping time span), which may be this batch's rows: removing them would lose data that
  the later batch believes is stored.

Pixel files stay in the content-addressed image store (an identical image uploaded again finds
them); assets created by a batch stay registered (other data may refer to them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, delete, func, select
from sqlalchemy.orm import Session

from plantpulse.connectors.registry import connector_names
from plantpulse.data.core.errors import PlantPulseError
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import (
    Asset,
    IngestBatch,
    MaintenanceEvent,
    QuarantinedRow,
    SensorReading,
    WeldImage,
    WeldInspection,
    WeldLabel,
)

_OPCUA = "opcua"


class BatchNotFoundError(PlantPulseError):
    """No ingest batch has the given id."""


class BatchInUseError(PlantPulseError):
    """Other data depends on what the batch stored; it was not removed."""


@dataclass(frozen=True, slots=True)
class Removed:
    """What removing one batch deleted."""

    batch_id: int
    connector: str
    source: str
    status: str
    readings: int = 0
    events: int = 0
    images: int = 0
    labels: int = 0
    quarantined: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        parts = [f"{n:,} {what}" for n, what in ((self.readings, "readings"), (self.events, "events"),
                                                (self.images, "images"), (self.labels, "imported labels"),
                                                (self.quarantined, "quarantined rows")) if n]
        what = ", ".join(parts) if parts else "nothing else (it stored no rows)"
        extra = "; the assets it registered stay" if self.connector == "assets" else ""
        return f"removed batch {self.batch_id} ({self.source}, {self.status}): {what}{extra}"


def _kind(connector: str) -> str:
    if connector in connector_names("sensors") or connector == _OPCUA:
        return "sensors"
    return connector


def _span(batch: IngestBatch) -> tuple[datetime, datetime] | None:
    span = (batch.summary or {}).get("time_span")
    if not span:
        return None
    return (datetime.fromisoformat(span[0].replace("Z", "+00:00")),
            datetime.fromisoformat(span[1].replace("Z", "+00:00")))


def _overlaps(a: tuple[datetime, datetime] | None, b: tuple[datetime, datetime] | None) -> bool:
    return a is None or b is None or (a[0] <= b[1] and b[0] <= a[1])


def _later_duplicates(session: Session, batch: IngestBatch) -> list[IngestBatch]:
    kind = _kind(batch.connector)
    later = session.scalars(select(IngestBatch).where(
        IngestBatch.id > batch.id, IngestBatch.status == "committed", IngestBatch.rows_duplicate > 0)
        .order_by(IngestBatch.id)).all()
    span = _span(batch)
    return [b for b in later if _kind(b.connector) == kind and (kind != "sensors" or _overlaps(span, _span(b)))]


def dependents(session: Session, batch: IngestBatch) -> str | None:
    """Why ``batch`` cannot be removed now, and what to do; None when it can."""
    if batch.status != "committed" or not batch.rows_loaded or batch.connector == "assets":
        return None  # nothing it stored can be in use (assets are never removed with a batch)
    images = select(WeldImage.id).where(WeldImage.batch_id == batch.id)
    inspected = session.scalar(select(func.count(func.distinct(WeldInspection.image_id)))
                               .where(WeldInspection.image_id.in_(images)))
    reviewed = session.scalar(select(func.count()).select_from(WeldLabel)
                              .where(WeldLabel.image_id.in_(images), WeldLabel.source.not_in(("import", "class"))))
    if inspected or reviewed:
        what = " and ".join(t for t in (f"{inspected:,} of its images have model inspections" if inspected else "",
                                        f"{reviewed:,} reviews were written on its images" if reviewed else "") if t)
        return f"{what}; they would lose their images, so the batch stays"
    later = _later_duplicates(session, batch)
    if later:
        span = " in an overlapping time span" if _kind(batch.connector) == "sensors" else ""
        names = "; ".join(f"batch {b.id} ({b.source}) skipped {b.rows_duplicate:,} rows" for b in later)
        ids = " ".join(str(b.id) for b in reversed(later))
        return (f"later batches skipped rows as already stored{span}, which may be this batch's rows "
                f"({names}). Remove them first (plantpulse db batches delete {ids}), then this one, and "
                "ingest their files again afterwards")
    return None


def _delete_readings(session: Session, batch: IngestBatch) -> int:
    query = delete(SensorReading).where(SensorReading.batch_id == batch.id)
    span = _span(batch)
    if span is not None:  # lets the primary key (asset, ts, channel) find the rows
        query = query.where(SensorReading.asset_id.in_(select(Asset.id)),
                            SensorReading.ts >= span[0], SensorReading.ts <= span[1])
    return _deleted(session, query)


def _deleted(session: Session, statement: Delete) -> int:
    """Rows a DELETE removed."""
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount or 0)


def remove_batch(session: Session, batch_id: int) -> Removed:
    """Delete batch ``batch_id`` and everything it stored, inside ``session``'s transaction.

    Raises :class:`BatchNotFoundError` or :class:`BatchInUseError` (nothing deleted)."""
    batch = session.get(IngestBatch, batch_id)
    if batch is None:
        raise BatchNotFoundError(f"There is no ingest batch {batch_id}; `plantpulse db batches` lists them.")
    reason = dependents(session, batch)
    if reason:
        raise BatchInUseError(f"Batch {batch_id} ({batch.source}) was not removed: {reason}.")
    readings = _delete_readings(session, batch)
    events = _deleted(session, delete(MaintenanceEvent).where(MaintenanceEvent.batch_id == batch_id))
    images = select(WeldImage.id).where(WeldImage.batch_id == batch_id)
    labels = _deleted(session, delete(WeldLabel).where(WeldLabel.image_id.in_(images)))
    n_images = _deleted(session, delete(WeldImage).where(WeldImage.batch_id == batch_id))
    quarantined = _deleted(session, delete(QuarantinedRow).where(QuarantinedRow.batch_id == batch_id))
    removed = Removed(batch_id, batch.connector, batch.source, batch.status, readings, events, n_images, labels,
                      quarantined)
    session.execute(delete(IngestBatch).where(IngestBatch.id == batch_id))
    session.expunge(batch)
    return removed


def check_removable(session: Session, batch_id: int) -> None:
    """Raise :class:`BatchInUseError` now, before any work, when ``batch_id`` cannot be removed."""
    batch = session.get(IngestBatch, batch_id)
    if batch is not None:
        reason = dependents(session, batch)
        if reason:
            raise BatchInUseError(f"{batch.source}: cannot replace batch {batch_id}: {reason}.")


def delete_batch(db: Database, batch_id: int) -> Removed:
    """``plantpulse db batches delete N``: remove one batch in its own transaction."""
    with db.session() as session:
        return remove_batch(session, batch_id)
