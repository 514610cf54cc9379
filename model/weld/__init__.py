"""Weld defect detection with Ultralytics YOLO: datasets, splits, training, verdicts, export.

Importing this package does not import Ultralytics; :mod:`.runtime` configures it for offline
use the first time a function needs it.

Modules, in the order data flows through them:

- :mod:`.dataset` reads a YOLO folder into :class:`LabelledImage` records;
- :mod:`.splits` makes the original and the source-grouped train/val/test splits;
- :mod:`.materialize` writes a split as an Ultralytics dataset in a working folder;
- :mod:`.train` trains (from a model YAML or given weights) -> :class:`WeldModel`;
- :mod:`.checkpoint` saves/loads :class:`WeldModel` as pickle-free safetensors;
- :mod:`.predict` runs it with PyTorch or ONNX Runtime (:mod:`.inference` holds shared steps);
- :mod:`.verdict` turns detections into pass/fail and measures false accepts/rejects;
- :mod:`.evaluate` computes mAP per class and the verdict report;
- :mod:`.export` writes ONNX; :mod:`.transfer` runs the few-label learning curve.
"""

from plantpulse.data.core.records import YoloBox
from plantpulse.model.weld.checkpoint import (
    WeldModel,
    WeldModelCard,
    load_weld_model,
    save_weld_model,
)
from plantpulse.model.weld.dataset import LabelledImage, scan_yolo_dataset, source_key
from plantpulse.model.weld.inference import Detection, ImageDetections
from plantpulse.model.weld.predict import (
    OnnxWeldDetector,
    PredictOptions,
    TorchWeldDetector,
    detect,
)
from plantpulse.model.weld.splits import WeldSplit, clip_key, clip_split, grouped_split, original_split
from plantpulse.model.weld.verdict import (
    DEFAULT_REJECT_CLASSES,
    VerdictMetrics,
    choose_threshold,
    reject_score,
    verdict_metrics,
)

__all__ = [
    "DEFAULT_REJECT_CLASSES",
    "Detection",
    "ImageDetections",
    "LabelledImage",
    "OnnxWeldDetector",
    "PredictOptions",
    "TorchWeldDetector",
    "VerdictMetrics",
    "WeldModel",
    "WeldModelCard",
    "WeldSplit",
    "YoloBox",
    "choose_threshold",
    "clip_key",
    "clip_split",
    "detect",
    "grouped_split",
    "load_weld_model",
    "original_split",
    "reject_score",
    "save_weld_model",
    "scan_yolo_dataset",
    "source_key",
    "verdict_metrics",
]
