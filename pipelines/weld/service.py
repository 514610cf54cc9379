"""Weld inspections in the database: images, inspections, reviews and detector versions.

The CLI and the dashboard call these functions; they never touch the network. Functions taking
a ``Session`` work inside the caller's transaction and do not commit.

Box JSON, in inspections and labels alike: ``{"class_id": 2, "class_name": "Defect",
"score": 0.83, "box": [x1, y1, x2, y2]}`` in original image pixels (``score`` is null in a
label an engineer drew).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.hashing import sha256_file
from plantpulse.data.core.records import ValidatedImage
from plantpulse.data.store import image_store
from plantpulse.data.store.db import Database, open_database
from plantpulse.data.store.repository import promote_model_version, register_model_version
from plantpulse.data.store.schema import ModelVersion, WeldImage, WeldInspection, WeldLabel
from plantpulse.model.weld.inference import Detection, ImageDetections
from plantpulse.model.weld.verdict import is_rejected, reject_score

MODEL_NAME = "weld-yolo"
MODEL_KIND = "yolo"
MODEL_TASK = "weld-detection"
VERDICTS = ("pass", "reject")
# the whole-image class an engineer's verdict records for the weld classifier
REVIEW_CLASSES = {"pass": "good", "reject": "bad"}
_EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "BMP": "bmp", "TIFF": "tif",
               "WEBP": "webp"}


@dataclass(frozen=True, slots=True)
class InspectionView:
    """One inspection as the dashboard shows it, with the latest review if there is one."""

    inspection_id: int
    image_id: int
    image_name: str
    image_path: Path
    width: int
    height: int
    verdict: str
    reject_score: float
    threshold: float
    boxes: tuple[dict[str, Any], ...]
    model_version_id: int
    model_version: str
    created_at: datetime
    review_verdict: str | None
    review_boxes: tuple[dict[str, Any], ...] | None
    reviewed_by: str | None


def database(settings: Settings) -> Database:
    """The configured database, checked to be at the current schema."""
    db = open_database(settings)
    db.require_current()
    return db


# ---------------------------------------------------------------- model versions
def find_version(session: Session, sha256: str) -> ModelVersion | None:
    query = select(ModelVersion).where(ModelVersion.name == MODEL_NAME,
                                       ModelVersion.sha256 == sha256)
    return session.scalar(query.order_by(ModelVersion.version.desc()).limit(1))


def ensure_version(session: Session, path: Path, metrics: dict[str, Any],
                   config: dict[str, Any], data_fingerprint: str = "",
                   kind: str = MODEL_KIND) -> ModelVersion:
    """The version row of the checkpoint file at ``path``, added as a candidate if new."""
    sha = sha256_file(path)
    existing = find_version(session, sha)
    if existing is not None:
        return existing
    return register_model_version(session, name=MODEL_NAME, kind=kind, task=MODEL_TASK,
                                  path=str(Path(path).resolve()), metrics=metrics, config=config,
                                  data_fingerprint=data_fingerprint, sha256=sha)


def register_checkpoint(settings: Settings, path: Path, kind: str = MODEL_KIND) -> ModelVersion:
    """Record a checkpoint file (idempotent) with the metrics and training facts of its card."""
    from plantpulse.model.weld.checkpoint import read_card

    card = read_card(path)
    with database(settings).session() as session:
        return ensure_version(
            session, path, metrics=card.get("metrics", {}),
            config={"kind": kind, "content_version": card.get("version"),
                    "train": card.get("train", {})},
            data_fingerprint=card.get("train", {}).get("data_fingerprint", ""), kind=kind)


def production_version(session: Session) -> ModelVersion | None:
    query = select(ModelVersion).where(ModelVersion.name == MODEL_NAME,
                                       ModelVersion.stage == "production")
    return session.scalar(query)


def promote(session: Session, version_id: int) -> ModelVersion:
    """Make a weld detector version the production one (the previous one is archived)."""
    row = session.get(ModelVersion, version_id)
    if row is None or row.name != MODEL_NAME:
        raise InputDataError(f"No weld detector version with id {version_id}.")
    return promote_model_version(session, version_id)


def detector_class_names(path: str | Path | None) -> list[str]:
    """The class names in a detector checkpoint's model card (read without loading weights)."""
    from plantpulse.model.weld.checkpoint import read_card

    if path is None:
        raise InputDataError("The model version has no checkpoint path; register it again.")
    return [str(n) for n in read_card(Path(path))["names"]]


# ---------------------------------------------------------------- images and inspections
def store_image(session: Session, store_dir: Path, data: bytes, image: ValidatedImage,
                ) -> WeldImage:
    """The image's row; its bytes go to the content-addressed image store (written once)."""
    row = session.scalar(select(WeldImage).where(WeldImage.sha256 == image.sha256))
    if row is not None:
        return row
    extension = _EXTENSIONS.get(image.format, "img")
    relative = image_store.store_image(Path(store_dir), image.sha256, extension, data)
    row = WeldImage(sha256=image.sha256, storage_path=relative,
                    original_name=image.name[:512], width=image.width, height=image.height,
                    format=image.format)
    session.add(row)
    session.flush()
    return row


def detection_json(detection: Detection) -> dict[str, Any]:
    return {"class_id": detection.class_id, "class_name": detection.class_name,
            "score": round(detection.score, 5), "box": [round(v, 2) for v in detection.box]}


def record_inspection(session: Session, image: WeldImage, version: ModelVersion,
                      result: ImageDetections, threshold: float,
                      reject_classes: Sequence[str]) -> WeldInspection:
    """Insert or refresh the inspection of ``image`` by ``version``."""
    score = reject_score(result, reject_classes)
    verdict = "reject" if is_rejected(score, threshold) else "pass"
    row = session.scalar(select(WeldInspection).where(
        WeldInspection.image_id == image.id, WeldInspection.model_version_id == version.id))
    if row is None:
        row = WeldInspection(image_id=image.id, model_version_id=version.id)
        session.add(row)
    row.verdict, row.reject_score, row.threshold = verdict, float(score), float(threshold)
    row.boxes = [detection_json(d) for d in result.detections]
    session.flush()
    return row


def _latest_reviews(session: Session, inspection_ids: Sequence[int]) -> dict[int, WeldLabel]:
    query = (select(WeldLabel).where(WeldLabel.inspection_id.in_(inspection_ids),
                                     WeldLabel.source == "review")
             .order_by(WeldLabel.created_at, WeldLabel.id))
    return {label.inspection_id: label for label in session.scalars(query)}


def _view(row: WeldInspection, image: WeldImage, version: ModelVersion, store_dir: Path,
          review: WeldLabel | None) -> InspectionView:
    return InspectionView(
        inspection_id=row.id, image_id=image.id, image_name=image.original_name,
        image_path=Path(store_dir) / image.storage_path, width=image.width, height=image.height,
        verdict=row.verdict, reject_score=row.reject_score, threshold=row.threshold,
        boxes=tuple(row.boxes), model_version_id=version.id,
        model_version=f"{version.name} v{version.version}", created_at=row.created_at,
        review_verdict=review.verdict if review else None,
        review_boxes=tuple(review.boxes) if review else None,
        reviewed_by=review.author if review else None)


def list_inspections(session: Session, store_dir: Path, limit: int = 100,
                     verdict: str | None = None, unreviewed_only: bool = False,
                     ) -> list[InspectionView]:
    """Newest inspections first, optionally only one verdict or only those not yet reviewed."""
    if verdict is not None and verdict not in VERDICTS:
        raise InputDataError(f"Unknown verdict {verdict!r}. Available: {', '.join(VERDICTS)}.")
    query = (select(WeldInspection, WeldImage, ModelVersion)
             .join(WeldImage, WeldInspection.image_id == WeldImage.id)
             .join(ModelVersion, WeldInspection.model_version_id == ModelVersion.id)
             .order_by(WeldInspection.created_at.desc(), WeldInspection.id.desc()))
    if verdict is not None:
        query = query.where(WeldInspection.verdict == verdict)
    rows = session.execute(query).all()
    reviews = _latest_reviews(session, [row.id for row, _, _ in rows])
    views = [_view(row, image, version, store_dir, reviews.get(row.id))
             for row, image, version in rows
             if not (unreviewed_only and row.id in reviews)]
    return views[:limit]


def _check_box(box: dict[str, Any], names: Sequence[str], width: int, height: int) -> dict[str, Any]:
    try:
        name = str(box["class_name"])
        x1, y1, x2, y2 = (float(v) for v in box["box"])
    except (KeyError, TypeError, ValueError) as err:
        msg = f"A box needs 'class_name' and 'box': [x1, y1, x2, y2]; got {box!r}."
        raise InputDataError(msg) from err
    if name not in names:
        raise InputDataError(f"Unknown class {name!r}. Available: {', '.join(names)}.")
    if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        msg = f"Box {[x1, y1, x2, y2]} is empty or outside the {width}x{height} image."
        raise InputDataError(msg)
    return {"class_id": names.index(name), "class_name": name, "score": None,
            "box": [x1, y1, x2, y2]}


def save_review(session: Session, inspection_id: int, verdict: str, names: Sequence[str],
                boxes: Sequence[dict[str, Any]] | None = None, author: str = "") -> WeldLabel:
    """Store an engineer's review of an inspection as a label.

    ``boxes=None`` accepts the model's boxes scoring at or above the inspection's threshold;
    a list (possibly empty) replaces them. ``names`` are the detector's class names. The label
    also records the whole-image class the verdict means (``REVIEW_CLASSES``: pass is ``good``,
    reject is ``bad``), which trains the weld classifier as the boxes train the detector.
    """
    if verdict not in VERDICTS:
        raise InputDataError(f"Unknown verdict {verdict!r}. Available: {', '.join(VERDICTS)}.")
    inspection = session.get(WeldInspection, inspection_id)
    if inspection is None:
        raise InputDataError(f"No weld inspection with id {inspection_id}.")
    image = session.get(WeldImage, inspection.image_id)
    if image is None:
        msg = (f"Weld inspection {inspection_id} refers to image {inspection.image_id}, which is not in "
               "the database; re-ingest the image before reviewing.")
        raise InputDataError(msg)
    if boxes is None:
        kept = [b for b in inspection.boxes if b["score"] >= inspection.threshold]
        checked = [{**b, "score": None} for b in kept]
    else:
        checked = [_check_box(b, names, image.width, image.height) for b in boxes]
    label = WeldLabel(image_id=image.id, source="review", boxes=checked, verdict=verdict,
                      class_name=REVIEW_CLASSES[verdict], author=author[:128], inspection_id=inspection.id)
    session.add(label)
    session.flush()
    return label
