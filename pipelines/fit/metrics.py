"""Held-out metrics of a fit (all from :mod:`plantpulse.model.metrics`) and which learner wins."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from plantpulse.data.core.errors import InputDataError
from plantpulse.model import metrics as M

HEADLINE = {"rul": ("rmse", "lower"), "class": ("macro_f1", "higher"), "anomaly": ("auroc", "higher")}


def rul_metrics(outs: dict[str, np.ndarray], true: np.ndarray, observed: np.ndarray,
                duration: np.ndarray) -> dict[str, Any]:
    """Error metrics on the windows whose end of life is known; concordance (censoring-aware,
    lifelines) over every held-out window, censored ones included."""
    obs = observed.astype(bool)
    out: dict[str, Any] = {"n_observed": int(obs.sum()), "n_censored": int((~obs).sum())}
    if obs.any():
        p, t = outs["mean"][obs], true[obs]
        out |= {"rmse": M.rmse(p, t), "mae": M.mae(p, t), "phm08": M.phm08_score(p, t),
                "coverage80": M.coverage(t, outs["lower"][obs], outs["upper"][obs])}
    try:
        out["concordance"] = M.concordance(duration, -outs["mean"], obs)
    except InputDataError:
        out["concordance"] = math.nan
    return out


def class_metrics(outs: dict[str, np.ndarray], true: np.ndarray, classes: tuple[str, ...]) -> dict[str, Any]:
    pred = outs["probs"].argmax(1)
    return {"accuracy": M.accuracy(pred, true), "macro_f1": M.macro_f1(pred, true, labels=list(range(len(classes)))),
            "confusion": M.confusion(pred, true, len(classes)).tolist(), "classes": list(classes)}


def anomaly_metrics(outs: dict[str, np.ndarray], normal: np.ndarray, val_normal: np.ndarray) -> dict[str, Any]:
    """AUROC (positive = outside the normal period) and the alarm threshold calibrated on the
    held-out normal windows of the validation assets (their 95th percentile score)."""
    normal = normal.astype(bool)
    val_scores = outs["val_score"][val_normal.astype(bool)]
    threshold = float(np.quantile(val_scores, 0.95)) if len(val_scores) else math.nan
    out: dict[str, Any] = {"threshold": threshold, "n_normal": int(normal.sum()), "n_later": int((~normal).sum())}
    if normal.any() and (~normal).any():
        out["auroc"] = M.roc_auc(outs["score"], ~normal)
    if normal.any() and math.isfinite(threshold):
        out["false_alarm_rate"] = float(np.mean(outs["score"][normal] > threshold))
    return out


def better(target: str, a: dict[str, Any], b: dict[str, Any]) -> int:
    """0 when ``a`` wins on the headline metric (ties and a missing ``b`` go to ``a``), else 1."""
    key, direction = HEADLINE[target]
    va, vb = a.get(key, math.nan), b.get(key, math.nan)
    if not math.isfinite(vb):
        return 0
    if not math.isfinite(va):
        return 1
    return 0 if (va <= vb if direction == "lower" else va >= vb) else 1


def best_on_validation(target: str, metrics: dict[str, dict[str, Any]]) -> tuple[str, bool]:
    """The learner (key of ``metrics``) with the best validation headline metric (``val_<key>``;
    ties go to the earlier learner), and whether any had a finite one (else the first is returned)."""
    key, _ = HEADLINE[target]
    kinds = list(metrics)
    values = {k: {key: metrics[k].get(f"val_{key}", math.nan)} for k in kinds}
    winner = kinds[0]
    for kind in kinds[1:]:
        if better(target, values[winner], values[kind]) == 1:
            winner = kind
    return winner, any(math.isfinite(v[key]) for v in values.values())
