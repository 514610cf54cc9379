"""Validation metrics per head kind, computed on whole splits (no window-level leakage here:
the splits come in already separated by unit/asset/recording)."""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from plantpulse.model.moe.layers.heads import AnomalyOutput, ClassOutput, RULDistribution
from plantpulse.model.moe.losses import task_loss
from plantpulse.model.moe.network import PlantPulseModel
from plantpulse.model.moe.training.data import Batcher, TaskData
from plantpulse.model.moe.training.runtime import autocast


def phm08_score(pred: np.ndarray, true: np.ndarray) -> float:
    """PHM08 asymmetric score: Σ exp(-d/13) - 1 for early, exp(d/10) - 1 for late predictions."""
    d = pred - true
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1, np.exp(d / 10.0) - 1)))


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
    """Metrics for one task kind from :func:`predict` outputs."""
    y = outs["target"]
    if kind == "rul":
        true = np.clip(y.astype(float), 0, rul_cap)
        pred = np.clip(outs["mean"], 0, rul_cap)
        covered = (true >= outs["lower"]) & (true <= outs["upper"])
        return {"rmse": float(np.sqrt(np.mean((pred - true) ** 2))),
                "mae": float(np.mean(np.abs(pred - true))),
                "coverage80": float(covered.mean()), "phm08": phm08_score(pred, true)}
    if kind == "anomaly":
        abnormal = ~y.astype(bool)
        auc = roc_auc_score(abnormal, outs["score"]) if 0 < abnormal.sum() < len(y) else math.nan
        return {"auroc": float(auc)}
    probs = outs["probs"]
    if kind == "multilabel":
        pred = probs >= 0.5
        ap = [average_precision_score(y[:, k], probs[:, k]) for k in range(y.shape[1]) if y[:, k].any()]
        return {"macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
                "pr_auc": float(np.mean(ap)) if ap else math.nan}
    pred = probs.argmax(1)
    return {"accuracy": float((pred == y).mean()),
            "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0))}


def evaluate(model: PlantPulseModel, data: TaskData, batcher: Batcher, batch_size: int = 64,
             max_batches: int | None = None) -> dict[str, float]:
    """``{"loss": …, <metrics>}`` for one task split."""
    assert data.task is not None
    outs, loss = predict(model, data, batcher, batch_size, max_batches)
    return {"loss": loss, **task_metrics(data.task.kind, outs, data.task.rul_cap)}
