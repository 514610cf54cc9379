"""Evaluate a weld detector: box mAP per class (Ultralytics' validator) and image verdicts.

Detection quality is COCO-style mAP at IoU 0.5 and averaged over IoU 0.5:0.95, computed by
Ultralytics on a written dataset part. Verdict quality is false-accept / false-reject rates at a
threshold chosen on the validation part (see :mod:`~plantpulse.model.weld.verdict`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from plantpulse.data.core.errors import InputDataError
from plantpulse.model.weld.checkpoint import WeldModel, as_yolo
from plantpulse.model.weld.dataset import IMAGE_SUFFIXES, LabelledImage
from plantpulse.model.weld.splits import has_reject_box
from plantpulse.model.weld.verdict import (
    DEFAULT_REJECT_CLASSES,
    VerdictMetrics,
    choose_threshold,
    verdict_metrics,
)


@dataclass(frozen=True, slots=True)
class ClassAP:
    """Detection quality of one class on one dataset part."""

    name: str
    images: int
    instances: int
    precision: float
    recall: float
    ap50: float
    ap50_95: float


@dataclass(frozen=True, slots=True)
class DetectionMetrics:
    """Box mAP on one dataset part; ``per_class`` lists classes present in that part."""

    part: str
    n_images: int
    map50: float
    map50_95: float
    per_class: tuple[ClassAP, ...]


@dataclass(frozen=True, slots=True)
class VerdictReport:
    """A threshold chosen on validation for ``target_false_reject``, and its rates on both parts."""

    target_false_reject: float
    reject_classes: tuple[str, ...]
    val: VerdictMetrics
    test: VerdictMetrics


def _per_class(metrics, names: Sequence[str]) -> tuple[ClassAP, ...]:
    box = metrics.box
    rows = []
    for i, class_index in enumerate(box.ap_class_index):
        rows.append(ClassAP(
            name=names[int(class_index)], images=int(metrics.nt_per_image[class_index]),
            instances=int(metrics.nt_per_class[class_index]), precision=float(box.p[i]),
            recall=float(box.r[i]), ap50=float(box.ap50[i]), ap50_95=float(box.ap[i])))
    return tuple(rows)


def _count_images(data_yaml: Path, part: str) -> int:
    config = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
    folder = Path(config.get("path", data_yaml.parent)) / str(config[part])
    return sum(1 for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def evaluate_detection(model: WeldModel, data_yaml: Path, part: str = "test",
                       imgsz: int | None = None, batch: int = 16,
                       workdir: Path | None = None) -> DetectionMetrics:
    """mAP50 and mAP50-95 (overall and per class) of ``model`` on one part of ``data_yaml``."""
    if part not in ("train", "val", "test"):
        raise InputDataError(f"Unknown part {part!r}. Available: train, val, test.")
    with tempfile.TemporaryDirectory(prefix="plantpulse-val-") as tmp:
        base = Path(workdir) if workdir is not None else Path(tmp)
        metrics = as_yolo(model).val(
            data=str(data_yaml), split=part, imgsz=imgsz or model.card.imgsz, batch=batch,
            device="cpu", plots=False, save_json=False, project=str(base.resolve()),
            name=f"val-{part}", exist_ok=True, verbose=False, workers=0)
    n_images = _count_images(Path(data_yaml), part)
    return DetectionMetrics(part=part, n_images=n_images, map50=float(metrics.box.map50),
                            map50_95=float(metrics.box.map), per_class=_per_class(
                                metrics, model.card.names))


def defective_labels(items: Sequence[LabelledImage], names: Sequence[str],
                     reject_classes: Collection[str]) -> np.ndarray:
    """Ground-truth verdict per image: True when any box is of a reject class."""
    unknown = sorted(set(reject_classes) - set(names))
    if unknown:
        raise InputDataError(f"Unknown reject classes {unknown}. Available: {', '.join(names)}.")
    indices = {names.index(name) for name in reject_classes}
    return np.asarray([has_reject_box(item, indices) for item in items], dtype=bool)


def verdict_report(val_scores: Sequence[float], val_defective: Sequence[bool],
                   test_scores: Sequence[float], test_defective: Sequence[bool],
                   target_false_reject: float,
                   reject_classes: Collection[str] = DEFAULT_REJECT_CLASSES) -> VerdictReport:
    """Verdict rates of *any* model that gives one reject score per image.

    The threshold is chosen on the validation scores for ``target_false_reject`` and applied
    unchanged to the test scores. Use it to compare another model (e.g. an image classification
    head) with the detector on the same images: take ``val``/``test`` of the grouped split from
    :func:`~plantpulse.pipelines.weld.workflow.prepare_data` and the ground truth from
    :func:`defective_labels`.
    """
    threshold = choose_threshold(val_scores, val_defective, target_false_reject)
    return VerdictReport(
        target_false_reject=target_false_reject, reject_classes=tuple(reject_classes),
        val=verdict_metrics(val_scores, val_defective, threshold),
        test=verdict_metrics(test_scores, test_defective, threshold),
    )
