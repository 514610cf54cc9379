"""Weld jobs that need the settings but no database: paths, data, train, evaluate, export.

Folders (all inside the PlantPulse home): ``ultralytics/`` Ultralytics' own settings and fonts,
``weld/datasets/`` written splits, ``weld/runs/`` training logs, ``models/weld/`` checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from plantpulse.connectors.images.validation import validate_image
from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import CheckpointError
from plantpulse.data.core.records import ValidatedImage
from plantpulse.model.weld.agreement import Agreement, compare_detections
from plantpulse.model.weld.checkpoint import (
    SHIPPED_CHECKPOINT,
    WeldModel,
    load_weld_model,
    save_weld_model,
)
from plantpulse.model.weld.dataset import LabelledImage
from plantpulse.model.weld.export import export_onnx
from plantpulse.model.weld.predict import (
    OnnxWeldDetector,
    TorchWeldDetector,
    detect,
)
from plantpulse.model.weld.runtime import ultralytics
from plantpulse.model.weld.synthetic import encode_png, synthetic_weld
from plantpulse.model.weld.train import ProgressFn, TrainConfig
from plantpulse.pipelines.weld.workflow import (
    EvaluationReport,
    PreparedData,
    check_held_out,
    evaluate,
    prepare_data,
    train_and_evaluate,
)

DATASET_NAME = "weld_surface_yolo"


@dataclass(frozen=True, slots=True)
class WeldPaths:
    """Where weld state lives under the PlantPulse home."""

    home: Path

    @property
    def ultralytics(self) -> Path:
        return self.home / "ultralytics"

    @property
    def datasets(self) -> Path:
        return self.home / "weld" / "datasets"

    @property
    def runs(self) -> Path:
        return self.home / "weld" / "runs"

    @property
    def models(self) -> Path:
        return self.home / "models" / "weld"

    def new_run(self, label: str) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return self.runs / f"{stamp}-{label}"


def weld_paths(settings: Settings) -> WeldPaths:
    """The weld folders, with Ultralytics configured to keep its state there (offline)."""
    paths = WeldPaths(Path(settings.home).resolve())
    ultralytics(paths.ultralytics)
    return paths


def dataset_dir(settings: Settings, data: Path | None) -> Path:
    """``data`` if given, else ``<datasets_dir>/weld_surface_yolo``."""
    if data is not None:
        return Path(data)
    return settings.require_datasets_dir() / DATASET_NAME


def checkpoint_path(settings: Settings, checkpoint: Path | None) -> Path:
    """The checkpoint to use: explicit, else settings, else the one shipped with PlantPulse."""
    chosen = checkpoint or settings.weld.checkpoint or SHIPPED_CHECKPOINT
    if not Path(chosen).is_file():
        msg = (f"Weld checkpoint {chosen} does not exist. Train one with 'plantpulse weld train' "
               "or pass --checkpoint.")
        raise CheckpointError(msg)
    return Path(chosen)


def prepare(settings: Settings, data: Path | None, strategy: str,
            extra_train: Sequence[LabelledImage] = ()) -> PreparedData:
    """Split the weld dataset and write it under ``weld/datasets``."""
    paths = weld_paths(settings)
    return prepare_data(dataset_dir(settings, data), paths.datasets, strategy,
                        settings.weld.split_seed, settings.weld.reject_classes, extra_train)


def save_model(settings: Settings, model: WeldModel, out: Path | None) -> Path:
    """Save to ``out``, or to ``models/weld/<version>.safetensors``."""
    target = out or weld_paths(settings).models / f"{model.version}.safetensors"
    return save_weld_model(model, target)


def train_evaluate(settings: Settings, prepared: PreparedData, config: TrainConfig, int8: bool,
                   progress: ProgressFn | None = None) -> tuple[WeldModel, EvaluationReport]:
    """Train on a prepared split and evaluate on its test part (threshold from val)."""
    run_dir = weld_paths(settings).new_run(prepared.split.strategy)
    return train_and_evaluate(prepared, config, run_dir, settings.weld.reject_classes,
                              settings.weld.target_false_reject, progress, int8)


def evaluate_checkpoint(settings: Settings, checkpoint: Path | None, onnx: Path | None,
                        data: Path | None, strategy: str, part: str,
                        target_false_reject: float | None) -> EvaluationReport:
    """mAP of the checkpoint and verdict rates (of the ONNX file, when given) on ``part``."""
    model = load_weld_model(checkpoint_path(settings, checkpoint))
    detector = OnnxWeldDetector.load(onnx) if onnx is not None else None
    prepared = prepare(settings, data, strategy)
    check_held_out(model, dataset_dir(settings, data), prepared.split, ("val", part))
    target = settings.weld.target_false_reject if target_false_reject is None else target_false_reject
    return evaluate(model, prepared, settings.weld.reject_classes, target, part, detector)


def agreement_images(count: int = 8, seed: int = 0) -> list[ValidatedImage]:
    """Synthetic weld images (some non-square) for a quick export check."""
    rng = np.random.default_rng(seed)
    images = []
    for index in range(count):
        rgb = synthetic_weld(rng, size=256, defective=index % 2 == 0).rgb
        if index % 3 == 1:
            rgb = np.ascontiguousarray(rgb[:, : 160 + 10 * index])
        images.append(validate_image(encode_png(rgb), name=f"synthetic-{index}.png"))
    return images


def export_checkpoint(settings: Settings, checkpoint: Path | None, out: Path | None,
                      imgsz: int | None, check: bool) -> tuple[Path, Agreement | None]:
    """Export to ONNX; with ``check``, compare ONNX and PyTorch boxes on synthetic images."""
    source = checkpoint_path(settings, checkpoint)
    model = load_weld_model(source)
    path = export_onnx(model, out or source.with_suffix(".onnx"), imgsz)
    if not check:
        return path, None
    images = agreement_images()
    torch_results = detect(TorchWeldDetector.from_model(model, imgsz), images)
    onnx_results = detect(OnnxWeldDetector.load(path), images)
    return path, compare_detections(torch_results, onnx_results)
