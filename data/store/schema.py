"""The PlantPulse database schema (SQLAlchemy 2 typed ORM).

Change it only together with an Alembic migration in ``data/store/migrations/versions``; a test checks
that the migrations produce exactly this schema.

``sensor_readings`` is the hot table: one row per (asset, time, channel), clustered on that key
(``WITHOUT ROWID`` on SQLite, the primary-key index on PostgreSQL) so that "latest window of an
asset" and "time range of an asset" are index range scans. It deliberately has no foreign keys:
per-row FK triggers would dominate bulk-load time; the ingest path resolves asset and channel ids
from their tables before it writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from plantpulse.data.core.times import utcnow
from plantpulse.data.store.types import UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BATCH_STATUSES = ("committed", "failed")
ALERT_STATUSES = ("open", "acknowledged", "closed")
# Work-order delivery to the webhook: None (no webhook when the alert opened), pending (to be sent
# by the next scoring run), delivered, refused (the receiver answered 4xx: re-send by hand).
DELIVERY_STATUSES = ("pending", "delivered", "refused")
MODEL_STAGES = ("candidate", "production", "archived")
OPEN_ALERT = "status IN ('open', 'acknowledged')"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Asset(Base):
    """A monitored thing: an engine, a pump, a bearing test rig, a weld cell."""

    __tablename__ = "assets"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    asset_type: Mapped[str] = mapped_column(String(64), index=True)
    site: Mapped[str] = mapped_column(String(64), default="")
    line: Mapped[str] = mapped_column(String(64), default="")
    model: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Channel(Base):
    """A measured quantity with its unit, shared by every asset that reports it."""

    __tablename__ = "channels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # stored as int16 in readings
    name: Mapped[str] = mapped_column(String(128), unique=True)
    unit: Mapped[str] = mapped_column(String(32), default="")
    description: Mapped[str] = mapped_column(String(256), default="")


class SensorReading(Base):
    """One value of one channel of one asset at one time (source timestamp, UTC)."""

    __tablename__ = "sensor_readings"
    __table_args__ = {"sqlite_with_rowid": False}
    asset_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Float(53))
    status: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    batch_id: Mapped[int | None] = mapped_column(Integer)


class IngestBatch(Base):
    """One ingested file/upload/stream flush and what became of its rows."""

    __tablename__ = "ingest_batches"
    __table_args__ = (
        Index(
            "uq_ingest_batches_committed_file", "connector", "content_sha256", unique=True,
            sqlite_where=text("status = 'committed'"), postgresql_where=text("status = 'committed'"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    connector: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(512))
    content_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_loaded: Mapped[int] = mapped_column(default=0)
    rows_quarantined: Mapped[int] = mapped_column(default=0)
    rows_duplicate: Mapped[int] = mapped_column(default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class QuarantinedRow(Base):
    """A rejected input row, kept verbatim with where it came from and why it was refused."""

    __tablename__ = "quarantined_rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batches.id"), index=True)
    source: Mapped[str] = mapped_column(String(512))
    line: Mapped[int | None]
    column: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WeldImage(Base):
    """Metadata of a weld image; pixels live in the image store under their sha256."""

    __tablename__ = "weld_images"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    storage_path: Mapped[str] = mapped_column(String(256))
    original_name: Mapped[str] = mapped_column(String(512))
    width: Mapped[int]
    height: Mapped[int]
    format: Mapped[str] = mapped_column(String(16))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), index=True)
    captured_at: Mapped[datetime | None]
    shift: Mapped[str | None] = mapped_column(String(32))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batches.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WeldInspection(Base):
    """A model's boxes and verdict for one image."""

    __tablename__ = "weld_inspections"
    __table_args__ = (UniqueConstraint("image_id", "model_version_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("weld_images.id"), index=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    verdict: Mapped[str] = mapped_column(String(16))
    reject_score: Mapped[float]
    threshold: Mapped[float]
    boxes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WeldLabel(Base):
    """Ground truth for an image: imported YOLO labels (``source`` 'import'), an engineer's review
    ('review': boxes, verdict and the class it implies) or a whole-image class from an upload's
    class folders or labels CSV ('class': no boxes; the detector never reads these rows)."""

    __tablename__ = "weld_labels"
    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("weld_images.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    boxes: Mapped[list[Any]] = mapped_column(default=list)
    verdict: Mapped[str | None] = mapped_column(String(16))
    class_name: Mapped[str | None] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(128), default="")
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("weld_inspections.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MaintenanceEvent(Base):
    """A maintenance-log entry: errors, work orders, replacements, failures; text kept verbatim."""

    __tablename__ = "maintenance_events"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_maintenance_events_asset_ts", "asset_id", "ts"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"))
    ts: Mapped[datetime | None]
    kind: Mapped[str] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(String(64))
    component: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(128))
    external_id: Mapped[str] = mapped_column(String(128))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batches.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelVersion(Base):
    """A trained model artefact with its metrics, config and the data it was trained on."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    task: Mapped[str] = mapped_column(String(64), default="")
    stage: Mapped[str] = mapped_column(String(16), default="candidate")
    path: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64), default="")
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[datetime | None]


class Prediction(Base):
    """A model's output for one asset's window; idempotent per (asset, window end, model)."""

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("asset_id", "window_end", "model_version_id"),
        Index("ix_predictions_asset_window", "asset_id", "window_end"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    window_end: Mapped[datetime]
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    rul_mean: Mapped[float | None]
    rul_lower: Mapped[float | None]
    rul_upper: Mapped[float | None]
    rul_quantiles: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    fault_probs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    top_fault: Mapped[str | None] = mapped_column(String(64))
    top_fault_prob: Mapped[float | None]
    anomaly_score: Mapped[float | None]
    routing: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    """A finding that needs a person; de-duplicated by ``dedupe_key`` while open."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_dedupe_key", "dedupe_key", unique=True,
            sqlite_where=text(OPEN_ALERT), postgresql_where=text(OPEN_ALERT),
        ),
        Index("ix_alerts_status_created", "status", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recommended_action: Mapped[str] = mapped_column(Text, default="")
    prediction_id: Mapped[int | None] = mapped_column(ForeignKey("predictions.id"))
    dedupe_key: Mapped[str] = mapped_column(String(256))
    occurrences: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    acknowledged_at: Mapped[datetime | None]
    delivery_status: Mapped[str | None] = mapped_column(String(16))  # see DELIVERY_STATUSES
    delivery_attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]


class JobRun(Base):
    """One run of a scheduled or manual job (scoring, ingestion) and how it ended."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job", "started_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    rows: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
