"""Score weld photos with a trained whole-image classifier (a ``weld-class`` version of any of the
three learner kinds): class probabilities per image and, for a good/bad classifier, the verdict
at the reject threshold chosen on validation when it was trained. Every file is read as arrays
(safetensors); images go through the one image validation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import current_model_version
from plantpulse.model.baseline import window_gbm
from plantpulse.model.image_features import image_features
from plantpulse.model.moe.checkpoint import load_checkpoint
from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.training.data import TaskData
from plantpulse.pipelines.evaluate.moe import outputs
from plantpulse.pipelines.evaluate.nets import load_plain
from plantpulse.pipelines.weld.classify.data import TASK_NAME, load_pixels
from plantpulse.pipelines.weld.classify.job import MODEL_NAME, good_class
from plantpulse.pipelines.weld.classify.learners import KINDS

Scorer = Callable[[np.ndarray], np.ndarray]  # (N, 3, S, S) uint8 -> (N, K) probabilities


@dataclass(frozen=True, slots=True)
class Classifier:
    label: str  # "weld-class v3 (weld-class-cnn)"
    classes: tuple[str, ...]
    image_size: int
    threshold: float | None  # reject when P(not good) >= threshold; None: not a good/bad classifier
    scorer: Scorer


@dataclass(frozen=True, slots=True)
class ImageClass:
    file: str
    probs: dict[str, float]
    top: str
    verdict: str | None  # "pass" / "reject" for a good/bad classifier


def _network(model: Any, classes: tuple[str, ...]) -> Scorer:
    task = TaskSpec(name=TASK_NAME, kind="classification", classes=classes)

    def score(images: np.ndarray) -> np.ndarray:
        data = TaskData(name="weld_class_predict", task=task, groups=np.zeros(len(images), dtype=np.int64),
                        images=images, targets=np.zeros(len(images), dtype=np.int64))
        return outputs(model, data)["probs"]
    return score


def _scorer(kind: str, path: Path, classes: tuple[str, ...]) -> Scorer:
    if kind == KINDS["gbm"]:
        model = window_gbm.load(path)
        known = tuple(model.meta["classes"])

        def score(images: np.ndarray) -> np.ndarray:
            probs = np.zeros((len(images), len(classes)))
            probs[:, [classes.index(c) for c in known]] = model.class_probabilities(image_features(images))
            return probs
        return score
    if kind == KINDS["cnn"]:
        return _network(load_plain(path), classes)
    if kind == KINDS["moe"]:
        return _network(load_checkpoint(path)[0], classes)
    raise InputDataError(f"Model version kind {kind!r} is not a weld classifier. Kinds: {', '.join(KINDS.values())}.")


def load_classifier(db: Database, name: str = MODEL_NAME) -> Classifier:
    """The production version of ``name``; refuses with the command that makes one."""
    with db.session() as session:
        version = current_model_version(session, name)
        if version is None:
            raise InputDataError(f"No {name!r} version is in production: train one with `plantpulse weld classify "
                                 "train` (or promote one with `plantpulse models promote`).")
        kind, path, config, metrics = version.kind, Path(version.path), dict(version.config or {}), \
            dict(version.metrics or {})
        label = f"{version.name} v{version.version} ({kind})"
    classes = tuple(config["classes"])
    threshold = metrics.get("threshold") if good_class(classes) is not None else None
    return Classifier(label, classes, int(config["image_size"]),
                      None if threshold is None else float(threshold), _scorer(kind, path, classes))


def classify_images(classifier: Classifier, paths: Sequence[Path]) -> list[ImageClass]:
    """One :class:`ImageClass` per image, in order."""
    if not paths:
        return []
    probs = classifier.scorer(np.stack([load_pixels(p, classifier.image_size) for p in paths]))
    good = good_class(classifier.classes)
    out = []
    for path, row in zip(paths, probs, strict=True):
        verdict = None
        if good is not None and classifier.threshold is not None:
            verdict = "reject" if 1.0 - row[good] >= classifier.threshold else "pass"
        out.append(ImageClass(path.name, {c: float(p) for c, p in zip(classifier.classes, row, strict=True)},
                              classifier.classes[int(row.argmax())], verdict))
    return out
