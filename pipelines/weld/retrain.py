"""Retrain the weld detector from engineers' reviews, and promote it only if it is better.

The training set is the base dataset's training part plus every labelled image in the database:
an engineer's latest review, else the labels imported with the image; validation and test stay
the base dataset's fixed parts, so the current and the new detector are compared on exactly the
same test images. The base split is the one the production detector was trained on (recorded in
its model card; settings ``weld.split`` when it records none): the candidate starts from its
weights, so any other split would test both on images they have seen. A reviewed image that is
itself in the fixed validation or test part (same file hash, source photo or video clip) is
left out of training.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import YoloBox
from plantpulse.data.store.schema import WeldImage, WeldLabel
from plantpulse.model.weld.checkpoint import load_weld_model
from plantpulse.model.weld.dataset import LabelledImage, source_key
from plantpulse.model.weld.splits import STRATEGIES, clip_key, group_key
from plantpulse.model.weld.train import ProgressFn, TrainConfig
from plantpulse.pipelines.weld import detector as weld_jobs
from plantpulse.pipelines.weld import service as weld_service
from plantpulse.pipelines.weld.inspect import choose_detector
from plantpulse.pipelines.weld.workflow import EvaluationReport, evaluate


@dataclass(frozen=True, slots=True)
class RetrainOutcome:
    """What a retraining produced and whether it replaced the production detector."""

    candidate_id: int
    candidate_path: Path
    reviewed_used: int
    reviewed_skipped: dict[str, int]
    current: EvaluationReport
    candidate: EvaluationReport
    promoted: bool
    reason: str


def _clip(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _yolo_box(box: dict, width: int, height: int, names: Sequence[str]) -> YoloBox:
    """A stored box as YOLO: reviews hold pixel corners, imported labels normalised centres.

    The class is matched by name to the detector's classes (an upload may order them otherwise).
    """
    name = box.get("class_name")
    if name not in names:
        raise InputDataError(f"class {name!r} is not one of the detector's classes")
    cls = names.index(name)
    if "box" in box:
        x1, y1, x2, y2 = (float(v) for v in box["box"])
        return YoloBox(cls, _clip((x1 + x2) / 2 / width), _clip((y1 + y2) / 2 / height),
                       _clip((x2 - x1) / width), _clip((y2 - y1) / height))
    return YoloBox(cls, *(_clip(float(box[k])) for k in ("cx", "cy", "w", "h")))


def _latest_labels(session: Session) -> list[tuple[WeldLabel, WeldImage]]:
    """Per image: its latest review, else its latest imported label."""
    query = (select(WeldLabel, WeldImage).join(WeldImage, WeldLabel.image_id == WeldImage.id)
             .where(WeldLabel.source.in_(("import", "review")))
             .order_by(WeldLabel.source, WeldLabel.created_at, WeldLabel.id))  # review sorts last
    latest = {label.image_id: (label, image) for label, image in session.execute(query).all()}
    return list(latest.values())


def reviewed_images(session: Session, store_dir: Path, names: Sequence[str],
                    reject_classes: Sequence[str], held_out: set[str],
                    ) -> tuple[list[LabelledImage], Counter[str]]:
    """Every labelled image of the database (see ``_latest_labels``) and counts of those skipped.

    ``held_out`` holds file hashes, source names and clip keys of the fixed evaluation parts.
    """
    reject_ids = {names.index(name) for name in reject_classes if name in names}
    items: list[LabelledImage] = []
    skipped: Counter[str] = Counter()
    for label, image in _latest_labels(session):
        path = Path(store_dir) / image.storage_path
        try:
            boxes = tuple(_yolo_box(b, image.width, image.height, names) for b in label.boxes)
        except InputDataError:
            skipped["a box class the detector does not know"] += 1
            continue
        source = source_key(image.original_name)
        if image.sha256 in held_out or source in held_out or clip_key(source) in held_out:
            skipped["in the fixed validation/test images"] += 1
        elif label.verdict == "reject" and not any(b.class_id in reject_ids for b in boxes):
            skipped["rejected without any defect box"] += 1
        elif not path.is_file():
            skipped["image file missing from the store"] += 1
        else:
            items.append(LabelledImage(path, boxes, label.source, source_key(image.original_name),
                                       image.sha256))
    return items, skipped


def base_split(settings: Settings, model_train: dict) -> str:
    """The split the production detector was trained on, else the configured one."""
    recorded = str(model_train.get("split") or "").split("+", 1)[0]
    return recorded if recorded in STRATEGIES else settings.weld.split


def _held_out(settings: Settings, data: Path | None, strategy: str) -> set[str]:
    base = weld_jobs.prepare(settings, data, strategy)
    evaluation = base.split.val + base.split.test
    return ({item.sha256 for item in evaluation} | {item.source for item in evaluation}
            | {group_key(item) for item in evaluation})


def retrain(settings: Settings, data: Path | None, config: TrainConfig, min_gain: float = 0.0,
            progress: ProgressFn | None = None) -> RetrainOutcome:
    """Train a candidate on base + reviewed images; promote it if test mAP50-95 improves."""
    current = choose_detector(settings, None, None, use_db=True)
    if current.kind != "yolo":
        raise InputDataError("The production weld detector is an ONNX file; retraining needs a checkpoint.")
    with weld_service.database(settings).session() as session:
        model = load_weld_model(current.path)
        strategy = base_split(settings, dict(model.card.train or {}))
        reviewed, skipped = reviewed_images(session, settings.image_store, model.card.names,
                                            current.reject_classes, _held_out(settings, data, strategy))
    if not reviewed:
        reasons = ", ".join(f"{n} {why}" for why, n in skipped.items()) or "no reviews yet"
        raise InputDataError(f"No reviewed image can be used for retraining ({reasons}).")
    prepared = weld_jobs.prepare(settings, data, strategy, extra_train=reviewed)
    candidate, candidate_report = weld_jobs.train_evaluate(settings, prepared, config,
                                                           "int8" in str(model.card.train.get("weights")),
                                                           progress)
    current_report = evaluate(model, prepared, current.reject_classes,
                              settings.weld.target_false_reject)
    path = weld_jobs.save_model(settings, candidate, None)
    return _decide(settings, path, candidate, len(reviewed), dict(skipped), current_report,
                   candidate_report, min_gain)


def _decide(settings: Settings, path: Path, candidate, reviewed: int,
            skipped: dict[str, int], current: EvaluationReport, new: EvaluationReport,
            min_gain: float) -> RetrainOutcome:
    gain = new.detection.map50_95 - current.detection.map50_95
    better = gain > min_gain
    reason = (f"test mAP50-95 {new.detection.map50_95:.3f} vs {current.detection.map50_95:.3f} "
              f"(gain {gain:+.3f}, needed > {min_gain:+.3f})")
    with weld_service.database(settings).session() as session:
        row = weld_service.ensure_version(
            session, path, metrics=candidate.card.metrics,
            config={"kind": "yolo", "content_version": candidate.version,
                    "train": candidate.card.train, "retrain": {"reviewed": reviewed,
                                                              "skipped": skipped}},
            data_fingerprint=candidate.card.train.get("data_fingerprint", ""))
        if better:
            weld_service.promote(session, row.id)
        row_id = row.id
    return RetrainOutcome(row_id, path, reviewed, skipped, current, new, better, reason)
