"""Validation during training: run a task head over a split and score it per head kind with
:mod:`plantpulse.model.metrics` (whole splits, already separated by unit/asset/recording, so no
window-level leakage here)."""

from __future__ import annotations

import math

import numpy as np
import torch

from plantpulse.model import metrics as M
from plantpulse.model.moe.layers.heads import AnomalyOutput, ClassOutput, RULDistribution
from plantpulse.model.moe.losses import task_loss
from plantpulse.model.moe.network import PlantPulseModel
from plantpulse.model.moe.training.data import Batcher, TaskData
from plantpulse.model.moe.training.runtime import autocast


@torch.no_grad()
def predict(model: PlantPulseModel, data: TaskData, batcher: Batcher, batch_size: int = 64,
            max_batches: int | None = None) -> tuple[dict[str, np.ndarray], float]:
    """Run the task head over ``data``; returns stacked outputs and the mean task loss."""
    assert data.task is not None, "predict needs a supervised task"
    name = data.task.name
    was_training = model.training
    model.eval()
    outs: dict[str, list[np.ndarray]] = {}
    losses, count = 0.0, 0
    for index, rows in enumerate(batcher.batches(data, batch_size)):
        if max_batches is not None and index >= max_batches:
            break
        with autocast(batcher.device):
            out = model(batcher.inputs(data, rows), tasks=(name,)).tasks[name]
        target = batcher.targets(data, rows)
        losses += float(task_loss(out, target, data.task.rul_cap)) * len(rows)
        count += len(rows)
        for key, value in _arrays(out).items():
            outs.setdefault(key, []).append(value)
        outs.setdefault("target", []).append(target.cpu().numpy())
    model.train(was_training)
    return {k: np.concatenate(v) for k, v in outs.items()}, losses / max(count, 1)


def _arrays(out: object) -> dict[str, np.ndarray]:
    if isinstance(out, RULDistribution):
        lower, upper = out.interval(0.8)
        return {"mean": out.mean.float().cpu().numpy(), "std": out.std.float().cpu().numpy(),
                "lower": lower.float().cpu().numpy(), "upper": upper.float().cpu().numpy()}
    if isinstance(out, AnomalyOutput):
        return {"score": out.score.float().cpu().numpy()}
    assert isinstance(out, ClassOutput)
    return {"probs": out.probs.float().cpu().numpy()}


def task_metrics(kind: str, outs: dict[str, np.ndarray], rul_cap: float = 125.0) -> dict[str, float]:
    """Metrics for one task kind from :func:`predict` outputs (NaN where a diverged model gave NaN)."""
    y = outs["target"]
    if kind == "rul":
        true = np.clip(y.astype(float), 0, rul_cap)
        pred = np.clip(outs["mean"], 0, rul_cap)
        if not (np.isfinite(pred).all() and np.isfinite(outs["lower"]).all() and np.isfinite(outs["upper"]).all()):
            return dict.fromkeys(("rmse", "mae", "coverage80", "phm08"), math.nan)
        return {"rmse": M.rmse(pred, true), "mae": M.mae(pred, true),
                "coverage80": M.coverage(true, outs["lower"], outs["upper"]), "phm08": M.phm08_score(pred, true)}
    scores = outs["score"] if kind == "anomaly" else outs["probs"]
    if not np.isfinite(scores).all():
        return {"auroc": math.nan} if kind == "anomaly" else {"macro_f1": math.nan}
    if kind == "anomaly":
        return {"auroc": M.roc_auc(scores, ~y.astype(bool))}
    if kind == "multilabel":
        return {"macro_f1": M.macro_f1(scores >= 0.5, y), "pr_auc": M.pr_auc(scores, y)}
    pred = scores.argmax(1)
    return {"accuracy": M.accuracy(pred, y), "macro_f1": M.macro_f1(pred, y)}


def evaluate(model: PlantPulseModel, data: TaskData, batcher: Batcher, batch_size: int = 64,
             max_batches: int | None = None) -> dict[str, float]:
    """``{"loss": …, <metrics>}`` for one task split."""
    assert data.task is not None
    outs, loss = predict(model, data, batcher, batch_size, max_batches)
    return {"loss": loss, **task_metrics(data.task.kind, outs, data.task.rul_cap)}
