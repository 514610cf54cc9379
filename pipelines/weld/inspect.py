"""Inspect weld images: validate, detect, decide, and store inspections in the database.

A bad file never stops a batch: it is reported with its reason and the rest go on.
Which detector runs: ``--checkpoint``/``--onnx`` when given; else the production weld version in
the database; else the configured (or shipped) checkpoint, which is then registered and, when no
version is in production yet, promoted, so a fresh installation inspects out of the box.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from plantpulse.connectors.images.validation import validate_image
from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import CheckpointError, InputDataError
from plantpulse.data.core.records import RejectedImage, ValidatedImage
from plantpulse.data.store.schema import ModelVersion
from plantpulse.model.weld.checkpoint import load_weld_model, read_card
from plantpulse.model.weld.inference import ImageDetections
from plantpulse.model.weld.predict import (
    OnnxWeldDetector,
    PredictOptions,
    TorchWeldDetector,
    WeldDetector,
    detect,
)
from plantpulse.model.weld.verdict import is_rejected, reject_score
from plantpulse.pipelines.weld import service as weld_service
from plantpulse.pipelines.weld.detector import checkpoint_path, weld_paths


@dataclass(frozen=True, slots=True)
class LoadedDetector:
    """A detector with its operating point and where it came from."""

    detector: WeldDetector
    threshold: float
    reject_classes: tuple[str, ...]
    path: Path
    kind: str


@dataclass(frozen=True, slots=True)
class Inspected:
    """The outcome for one image."""

    name: str
    result: ImageDetections
    score: float
    verdict: str
    inspection_id: int | None


def load_for_inspection(path: Path, settings: Settings, onnx: bool = False) -> LoadedDetector:
    """Load a checkpoint (or ONNX file) with the threshold stored beside its weights."""
    weld_paths(settings)
    if onnx:
        detector = OnnxWeldDetector.load(path)
        meta = json.loads(detector.session.get_modelmeta().custom_metadata_map.get("plantpulse", "{}"))
        threshold, classes, kind = meta.get("reject_threshold"), meta.get("reject_classes"), "yolo-onnx"
    else:
        model = load_weld_model(path)
        detector = TorchWeldDetector.from_model(model)
        threshold, classes, kind = model.card.reject_threshold, model.card.reject_classes, "yolo"
    if threshold is None:
        msg = (f"{path} has no verdict threshold; train it with 'plantpulse weld train' or run "
               "'plantpulse weld evaluate' and re-save.")
        raise CheckpointError(msg)
    return LoadedDetector(detector, float(threshold),
                          tuple(classes or settings.weld.reject_classes), Path(path), kind)


def _version_for(session, loaded: LoadedDetector) -> ModelVersion:
    card = {} if loaded.kind == "yolo-onnx" else read_card(loaded.path)
    version = weld_service.ensure_version(
        session, loaded.path, kind=loaded.kind, metrics=card.get("metrics", {}),
        config={"kind": loaded.kind, "content_version": loaded.detector.version,
                "train": card.get("train", {})},
        data_fingerprint=card.get("train", {}).get("data_fingerprint", ""))
    if weld_service.production_version(session) is None:
        weld_service.promote(session, version.id)
    return version


def choose_detector(settings: Settings, checkpoint: Path | None, onnx: Path | None,
                    use_db: bool) -> LoadedDetector:
    """The detector to run, following the order in the module docstring."""
    if onnx is not None:
        return load_for_inspection(onnx, settings, onnx=True)
    if checkpoint is None and use_db:
        with weld_service.database(settings).session() as session:
            current = weld_service.production_version(session)
            if current is not None:
                return load_for_inspection(Path(current.path), settings, current.kind == "yolo-onnx")
    return load_for_inspection(checkpoint_path(settings, checkpoint), settings)


def read_image(path: Path, settings: Settings) -> tuple[bytes, ValidatedImage]:
    """The file's bytes and validated pixels; any problem is an InputDataError."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputDataError(f"{path}: cannot read the file ({err.strerror or err}).") from err
    return data, validate_image(data, name=Path(path).name,
                                max_pixels=settings.ingest.max_image_pixels)


def _decide(loaded: LoadedDetector, image: ValidatedImage,
            options: PredictOptions) -> tuple[ImageDetections, float, str]:
    result = detect(loaded.detector, [image], options)[0]
    score = reject_score(result, loaded.reject_classes)
    return result, score, "reject" if is_rejected(score, loaded.threshold) else "pass"


def inspect_paths(settings: Settings, loaded: LoadedDetector, paths: Sequence[Path], store: bool,
                  on_result: Callable[[Inspected], None] | None = None,
                  ) -> tuple[list[Inspected], list[RejectedImage]]:
    """Validate, detect and decide image by image; with ``store``, save images and inspections.

    Invalid files are returned as rejected (with the reason) and the batch goes on.
    """
    outcomes: list[Inspected] = []
    rejected: list[RejectedImage] = []
    options = PredictOptions(conf=settings.weld.min_box_score)
    scope = weld_service.database(settings).session() if store else contextlib.nullcontext()
    with scope as session:
        version = _version_for(session, loaded) if store else None
        for path in paths:
            try:
                data, image = read_image(path, settings)
            except InputDataError as err:
                rejected.append(RejectedImage(str(path), str(err)))
                continue
            result, score, verdict = _decide(loaded, image, options)
            inspection_id = None
            if store:
                row = weld_service.store_image(session, settings.image_store, data, image)
                inspection_id = weld_service.record_inspection(
                    session, row, version, result, loaded.threshold, loaded.reject_classes).id
            outcomes.append(Inspected(image.name, result, score, verdict, inspection_id))
            if on_result is not None:
                on_result(outcomes[-1])
    return outcomes, rejected
