"""The weld detector's jobs as plain functions: prepare data, train, evaluate (no database).

The CLI (``plantpulse weld``) and the benchmark call these; storage lives in
``plantpulse.pipelines.weld.service``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plantpulse.connectors.images.validation import validate_image
from plantpulse.data.core.errors import InputDataError
from plantpulse.model.weld.checkpoint import WeldModel, quantize_int8
from plantpulse.model.weld.dataset import LabelledImage, drop_exact_duplicates, scan_yolo_dataset
from plantpulse.model.weld.evaluate import (
    DetectionMetrics,
    VerdictReport,
    defective_labels,
    evaluate_detection,
    verdict_report,
)
from plantpulse.model.weld.materialize import write_dataset
from plantpulse.model.weld.predict import PredictOptions, TorchWeldDetector, WeldDetector, detect
from plantpulse.model.weld.splits import (
    DEFAULT_STRATEGY,
    PARTS,
    WeldSplit,
    clip_split,
    group_key,
    grouped_split,
    original_split,
)
from plantpulse.model.weld.train import ProgressFn, TrainConfig, train_detector
from plantpulse.model.weld.verdict import DEFAULT_REJECT_CLASSES, reject_score

SPLIT_STRATEGIES: dict[str, Callable[..., WeldSplit]] = {
    "clip": clip_split,
    "grouped": grouped_split,
    "original": lambda items, **_: original_split(items),
}


@dataclass(frozen=True, slots=True)
class PreparedData:
    """A split written as an Ultralytics dataset, with what is needed to audit it."""

    names: tuple[str, ...]
    split: WeldSplit
    data_yaml: Path
    duplicates_dropped: int
    fingerprint: str


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """Detection mAP on one part and verdict rates (threshold from validation)."""

    detection: DetectionMetrics
    verdict: VerdictReport

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe data (NaN, e.g. a rate without any good image, becomes None)."""
        return json_safe(asdict(self))


def json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def fingerprint(split: WeldSplit) -> str:
    """sha256 over (part, image hash) pairs: two runs on the same data share it."""
    digest = hashlib.sha256()
    for part in PARTS:
        for item in sorted(split.part(part), key=lambda it: it.sha256):
            digest.update(f"{part}:{item.sha256}\n".encode())
    return digest.hexdigest()


def make_split(items: Sequence[LabelledImage], names: Sequence[str], strategy: str, seed: int,
               reject_classes: Sequence[str] = DEFAULT_REJECT_CLASSES) -> WeldSplit:
    """Split ``items`` with the named strategy (``clip``, the default; ``grouped`` or ``original``)."""
    if strategy not in SPLIT_STRATEGIES:
        available = ", ".join(sorted(SPLIT_STRATEGIES))
        raise InputDataError(f"Unknown split strategy {strategy!r}. Available: {available}.")
    reject = {names.index(name) for name in reject_classes if name in names}
    return SPLIT_STRATEGIES[strategy](items, seed=seed, reject_classes=reject)


def prepare_data(dataset_dir: Path, workdir: Path, strategy: str = DEFAULT_STRATEGY, seed: int = 0,
                 reject_classes: Sequence[str] = DEFAULT_REJECT_CLASSES,
                 extra_train: Sequence[LabelledImage] = ()) -> PreparedData:
    """Read, de-duplicate, split and write a dataset; ``extra_train`` joins the training part."""
    names, items = scan_yolo_dataset(Path(dataset_dir))
    items, dropped = drop_exact_duplicates(items)
    split = make_split(items, names, strategy, seed, reject_classes)
    if extra_train:
        split = WeldSplit(split.train + tuple(extra_train), split.val, split.test,
                          strategy=f"{split.strategy}+reviews", seed=split.seed)
    data_yaml = write_dataset({part: split.part(part) for part in PARTS},
                              Path(workdir) / f"{split.strategy}-{seed}", names)
    return PreparedData(names, split, data_yaml, dropped, fingerprint(split))


def check_held_out(model: WeldModel, dataset_dir: Path, split: WeldSplit,
                   parts: Sequence[str] = ("val", "test")) -> None:
    """Refuse to score ``model`` on images of clips or photos it was trained on.

    The model card records the split the model was trained on (strategy and seed). When ``split``
    is a different one, the recorded split is rebuilt from ``dataset_dir`` and every image of
    ``parts`` whose clip (or source photo, or file) sits in that training part is counted: a
    detector trained on the ``grouped`` split has seen frames of every clip, so it cannot be
    scored on the ``clip`` split's test part. A card without a recorded split is not checked.
    """
    recorded = model.card.train or {}
    strategy = str(recorded.get("split") or "").split("+", 1)[0]
    seed = int(recorded.get("split_seed") or 0)
    if strategy not in SPLIT_STRATEGIES:
        return
    if strategy == split.strategy.split("+", 1)[0] and (strategy == "original" or seed == split.seed):
        return
    names, items = scan_yolo_dataset(Path(dataset_dir))
    items, _ = drop_exact_duplicates(items)
    trained = make_split(items, names, strategy, seed,
                         model.card.reject_classes or DEFAULT_REJECT_CLASSES).train
    seen = {group_key(item) for item in trained} | {item.sha256 for item in trained}
    leaked = {part: sum(group_key(it) in seen or it.sha256 in seen for it in split.part(part))
              for part in parts}
    if any(leaked.values()):
        counts = ", ".join(f"{n} of {len(split.part(part))} {part} images" for part, n in leaked.items())
        msg = (f"The checkpoint was trained on the {strategy!r} split (seed {seed}); on the "
               f"{split.strategy!r} split {counts} share a video clip or photo with its training "
               f"part, so the figures would be inflated. Evaluate it with --split {strategy} (the "
               f"split it was trained on, labelled as such), or train a detector on the "
               f"{split.strategy!r} split with 'plantpulse weld train --split {split.strategy}'.")
        raise InputDataError(msg)


def evaluate(model: WeldModel, data: PreparedData, reject_classes: Sequence[str],
             target_false_reject: float, part: str = "test",
             detector: WeldDetector | None = None) -> EvaluationReport:
    """mAP on ``part`` and verdict rates on it, the threshold chosen on ``val``."""
    detection = evaluate_detection(model, data.data_yaml, part)
    detector = detector or TorchWeldDetector.from_model(model)
    verdict = evaluate_verdict(detector, data.split.val, data.split.part(part), data.names,
                               reject_classes, target_false_reject)
    return EvaluationReport(detection, verdict)


def train_and_evaluate(data: PreparedData, config: TrainConfig, run_dir: Path,
                       reject_classes: Sequence[str], target_false_reject: float,
                       progress: ProgressFn | None = None, int8: bool = False,
                       ) -> tuple[WeldModel, EvaluationReport]:
    """Train on ``data``, evaluate on its test part; the model card records both.

    With ``int8`` the weights are rounded to int8 levels *before* evaluation, so the reported
    figures are those of the stored checkpoint.
    """
    extra = {"split": data.split.strategy, "split_seed": data.split.seed,
             "data_fingerprint": data.fingerprint, "split_summary": data.split.summary(),
             "duplicates_dropped": data.duplicates_dropped}
    result = train_detector(data.data_yaml, data.names, config, run_dir, progress, extra)
    model = quantize_int8(result.model) if int8 else result.model
    report = evaluate(model, data, reject_classes, target_false_reject)
    model = model.with_card(reject_classes=tuple(reject_classes),
                                   reject_threshold=report.verdict.val.threshold,
                                   metrics=report.to_dict())
    return model, report


def reject_scores(detector: WeldDetector, items: Sequence[LabelledImage],
                  reject_classes: Collection[str],
                  options: PredictOptions | None = None) -> np.ndarray:
    """The detector's reject score for every image of ``items``."""
    images = (validate_image(item.image) for item in items)
    return np.asarray([reject_score(result, reject_classes)
                       for result in detect(detector, images, options)], dtype=np.float64)


def evaluate_verdict(detector: WeldDetector, val: Sequence[LabelledImage],
                     test: Sequence[LabelledImage], names: Sequence[str],
                     reject_classes: Collection[str], target_false_reject: float,
                     ) -> VerdictReport:
    """The detector's reject scores on ``val`` and ``test``, through :func:`verdict_report`."""
    return verdict_report(
        reject_scores(detector, val, reject_classes), defective_labels(val, names, reject_classes),
        reject_scores(detector, test, reject_classes), defective_labels(test, names, reject_classes),
        target_false_reject, reject_classes)
