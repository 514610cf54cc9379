"""``plantpulse weld classify train``: class-labelled weld images -> split -> gradient boosting on
image features, plain CNN and MoE image path -> held-out metrics -> report -> three ``weld-class``
versions, the best on validation promoted.

Selection uses validation only: each learner keeps its best-on-validation weights, the promoted
one has the highest validation macro-F1 (ties: the plain CNN), and for two classes the
reject threshold is the lowest one keeping validation false rejects at or under 5 %. Test images
are scored once, for the report.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plantpulse.data.core.hashing import sha256_file
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import promote_model_version, register_model_version
from plantpulse.model import metrics as M
from plantpulse.model.weld.verdict import choose_threshold, verdict_metrics
from plantpulse.pipelines.fit.metrics import class_metrics
from plantpulse.pipelines.weld.classify import data as class_data
from plantpulse.pipelines.weld.classify.learners import (
    KINDS,
    ORIGIN,
    Budgets,
    Trained,
    train_cnn,
    train_gbm,
    train_moe,
)

MODEL_NAME = "weld-class"
TARGET_FALSE_REJECT = 0.05
GOOD_NAMES = ("good", "good_weld", "ok", "pass")
Echo = Callable[[str], None]


@dataclass(frozen=True)
class ClassifyRequest:
    """What to train: the split (``clip`` or ``file``), the image side in pixels, the budgets."""

    split: str = "clip"
    image_size: int = 64
    budget: Budgets = Budgets()
    promote: bool = True


@dataclass
class ClassifyResult:
    metrics: dict[str, dict[str, Any]]
    versions: dict[str, str]
    winner: str
    promoted: str | None
    report: Path
    info: dict[str, Any]


def good_class(classes: tuple[str, ...]) -> int | None:
    """For two classes, the index of the one meaning an acceptable weld (``good``, ``pass``, ...);
    None when neither name says so or there are more classes."""
    found = [i for i, c in enumerate(classes) if c.lower() in GOOD_NAMES]
    return found[0] if len(classes) == 2 and len(found) == 1 else None


def score(t: Trained, data: class_data.ClassData) -> dict[str, Any]:
    """Test accuracy, macro-F1, confusion; validation macro-F1 (selection); for a good/bad pair the
    ROC AUC of P(not good) and the verdict at the validation-chosen threshold."""
    splits = data.splits
    assert splits.test is not None and splits.test.targets is not None and splits.val.targets is not None
    out = class_metrics({"probs": t.test_probs}, splits.test.targets, data.classes)
    val_pred = t.val_probs.argmax(1)
    out["val_macro_f1"] = M.macro_f1(val_pred, splits.val.targets, labels=list(range(len(data.classes))))
    out["val_accuracy"] = M.accuracy(val_pred, splits.val.targets)
    good = good_class(data.classes)
    if good is not None:
        reject_val, reject_test = 1 - t.val_probs[:, good], 1 - t.test_probs[:, good]
        bad_val, bad_test = splits.val.targets != good, splits.test.targets != good
        out["roc_auc"] = M.roc_auc(reject_test, bad_test)
        threshold = choose_threshold(reject_val, bad_val, TARGET_FALSE_REJECT)
        v = verdict_metrics(reject_test, bad_test, threshold)
        out |= {"threshold": threshold, "false_reject_rate": v.false_reject_rate,
                "false_accept_rate": v.false_accept_rate}
    return {**out, "wall_s": t.wall_s}


def _fingerprint(data: class_data.ClassData) -> str:
    digest = hashlib.sha256()
    for part in (data.splits.train, data.splits.val, data.splits.test):
        assert part is not None and part.images is not None and part.targets is not None
        digest.update(np.ascontiguousarray(part.images).tobytes() + part.targets.tobytes())
    return digest.hexdigest()


def run_classify(db: Database, store_dir: Path, model_dir: Path, out_dir: Path,
                 request: ClassifyRequest = ClassifyRequest(), echo: Echo = print) -> ClassifyResult:
    """Train the three learners on the class-labelled images of ``db`` (see the module docstring)."""
    with db.session() as session:
        items = class_data.labelled_images(session, store_dir)
    echo(f"weld classify: {len(items)} class-labelled images; split by {request.split}")
    data = class_data.build(items, request.split, request.image_size, request.budget.seed)
    for part, counts in data.info["per_part"].items():
        echo(f"  {part}: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    extra = {"classes": list(data.classes), "image_size": request.image_size, "split": request.split,
             "task": class_data.TASK_NAME}
    trained = []
    for learner, fit in (("gbm", lambda p: train_gbm(data.splits, request.budget, p, data.classes)),
                         ("cnn", lambda p: train_cnn(data.splits, request.budget, p)),
                         ("moe", lambda p: train_moe(data.splits, request.budget, p, extra))):
        echo(f"training {ORIGIN[learner]} ...")
        trained.append(fit(model_dir / f"{MODEL_NAME}-{learner}-{stamp}.safetensors"))
        echo(f"training {learner}: done in {trained[-1].wall_s} s")
    metrics = {t.learner: score(t, data) for t in trained}
    winner = max(metrics, key=lambda k: (metrics[k]["val_macro_f1"], k == "cnn"))
    versions, promoted = _register(db, trained, metrics, extra, winner, request.promote, _fingerprint(data))
    report = write_report(out_dir, request, data, metrics, versions, winner, promoted, trained)
    for k, m in metrics.items():
        echo(f"{k}: validation macro-F1 {m['val_macro_f1']:.3f}; test accuracy {m['accuracy']:.3f}, "
             f"macro-F1 {m['macro_f1']:.3f}" + (f", ROC AUC {m['roc_auc']:.3f}" if "roc_auc" in m else ""))
    echo(f"promoted {promoted} (best validation macro-F1)" if promoted else f"not promoted; the best is {winner}")
    echo(f"report: {report}")
    return ClassifyResult(metrics, versions, winner, promoted, report, data.info)


def _register(db: Database, trained: list[Trained], metrics: dict[str, dict[str, Any]], extra: dict[str, Any],
              winner: str, promote: bool, fingerprint: str) -> tuple[dict[str, str], str | None]:
    versions: dict[str, str] = {}
    ids: dict[str, int] = {}
    with db.session() as session:
        for t in trained:
            row = register_model_version(
                session, name=MODEL_NAME, kind=KINDS[t.learner], path=str(t.path.resolve()),
                task=class_data.TASK_NAME, metrics=_clean(metrics[t.learner]),
                config={**extra, "learner": t.learner}, data_fingerprint=fingerprint, sha256=sha256_file(t.path))
            ids[t.learner], versions[t.learner] = row.id, f"{row.name} v{row.version}"
        if promote:
            promote_model_version(session, ids[winner])
    return versions, versions[winner] if promote else None


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value


_SHOWN = ("val_macro_f1", "accuracy", "macro_f1", "roc_auc", "threshold", "false_reject_rate",
          "false_accept_rate", "wall_s")


def write_report(out_dir: Path, request: ClassifyRequest, data: class_data.ClassData,
                 metrics: dict[str, dict[str, Any]], versions: dict[str, str], winner: str,
                 promoted: str | None, trained: list[Trained]) -> Path:
    """``weld-class-report.json`` (everything) and ``weld-class-report.md``; returns the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"request": {"split": request.split, "image_size": request.image_size,
                           "budget": vars(request.budget)}, "data": data.info, "metrics": metrics,
               "versions": versions, "winner": winner, "promoted": promoted,
               "files": {t.learner: str(t.path) for t in trained}, "test_files": data.files["test"]}
    (out_dir / "weld-class-report.json").write_text(json.dumps(_clean(payload), indent=1) + "\n", encoding="utf-8")
    kinds = list(metrics)
    info = data.info
    lines = [f"# Weld classifier report ({len(data.classes)} classes: {', '.join(data.classes)})", "",
             f"- images: {info['images']} class-labelled ({info['video_frames']} video frames); split by "
             f"{info['split']}, seed {info['seed']}; images resized to {info['image_size']} px",
             *(f"- {part}: " + ", ".join(f"{c} {n}" for c, n in counts.items())
               for part, counts in info["per_part"].items()),
             *(f"- {k}: {ORIGIN[k]}" for k in kinds),
             "", "## Held-out test metrics (selection on validation)", "",
             "| metric | " + " | ".join(kinds) + " |", "|---|" + "---:|" * len(kinds)]
    lines += [f"| {m} | " + " | ".join(_fmt(metrics[k].get(m)) for k in kinds) + " |"
              for m in _SHOWN if any(m in metrics[k] for k in kinds)]
    for k in kinds:
        lines += ["", f"Test confusion of {k} (rows: true {', '.join(data.classes)}; columns: predicted):", ""]
        lines += ["    " + " ".join(f"{v:5d}" for v in row) for row in metrics[k]["confusion"]]
    lines += ["", "## Registry", "", *(f"- {k}: {label}" for k, label in versions.items()),
              f"- better on validation macro-F1: {winner}; promoted: {promoted or 'none (--no-promote)'}"]
    path = out_dir / "weld-class-report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
