"""Evaluation metrics, each a plain function of numpy arrays with a known-answer test.

RUL: :func:`rmse`, :func:`phm08_score` (the asymmetric PHM 2008 challenge score), :func:`coverage`
of a prediction interval. Classification: :func:`accuracy`, :func:`macro_f1`, :func:`pr_auc`
(average precision per label, averaged over labels that have a positive). Survival:
:func:`concordance` (Harrell's C through lifelines, censoring-aware). :func:`mean_sd` summarises
a metric over seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, f1_score

from plantpulse.data.core.errors import InputDataError


def _pair(pred: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray,
          name: str) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    if p.shape != t.shape or p.ndim != 1 or p.size == 0:
        msg = f"{name} needs two non-empty 1-D arrays of one length; got shapes {p.shape} and {t.shape}."
        raise InputDataError(msg)
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise InputDataError(f"{name}: predictions or targets contain NaN or inf.")
    return p, t


def rmse(pred: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray) -> float:
    """Root mean squared error."""
    p, t = _pair(pred, true, "rmse")
    return float(np.sqrt(np.mean((p - t) ** 2)))


def phm08_score(pred: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray) -> float:
    """PHM08 score Σ s_i with d = pred - true: exp(-d/13) - 1 when early (d < 0), exp(d/10) - 1
    when late (d ≥ 0). Late predictions cost more, as a missed failure does (Saxena et al. 2008)."""
    p, t = _pair(pred, true, "phm08_score")
    d = p - t
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


def coverage(true: Sequence[float] | np.ndarray, lower: Sequence[float] | np.ndarray,
             upper: Sequence[float] | np.ndarray) -> float:
    """Share of targets inside their closed interval [lower, upper]."""
    t, lo = _pair(true, lower, "coverage")
    _, hi = _pair(true, upper, "coverage")
    if np.any(lo > hi):
        raise InputDataError("coverage: some intervals have lower > upper.")
    return float(np.mean((t >= lo) & (t <= hi)))


def _labels(pred: Sequence[int] | np.ndarray, true: Sequence[int] | np.ndarray,
            name: str) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(pred), np.asarray(true)
    if p.shape != t.shape or p.size == 0:
        msg = f"{name} needs predictions and labels of one non-empty shape; got {p.shape} and {t.shape}."
        raise InputDataError(msg)
    return p, t


def accuracy(pred: Sequence[int] | np.ndarray, true: Sequence[int] | np.ndarray) -> float:
    p, t = _labels(pred, true, "accuracy")
    return float(np.mean(p == t))


def macro_f1(pred: Sequence[int] | np.ndarray, true: Sequence[int] | np.ndarray,
             labels: Sequence[int] | None = None) -> float:
    """Unweighted mean of per-class F1.

    Single-label (N,): over ``labels`` (default: the classes present in ``true`` or ``pred``).
    Multilabel (N, K) {0, 1}: the positive-class F1 of each of the K labels, averaged.
    """
    p, t = _labels(pred, true, "macro_f1")
    if p.ndim == 2:
        return float(f1_score(t.astype(int), p.astype(int), average="macro", zero_division=0))
    return float(f1_score(t, p, labels=labels, average="macro", zero_division=0))


def pr_auc(scores: np.ndarray, true: np.ndarray) -> float:
    """Average precision per label (columns of (N, K) arrays, or one (N,) label), averaged over
    labels with at least one positive; NaN when no label has a positive."""
    s, t = np.asarray(scores, dtype=np.float64), np.asarray(true)
    if s.shape != t.shape or s.size == 0:
        raise InputDataError(f"pr_auc needs scores and labels of one shape; got {s.shape} and {t.shape}.")
    s, t = s.reshape(len(s), -1), t.reshape(len(t), -1).astype(bool)
    values = [average_precision_score(t[:, k], s[:, k]) for k in range(t.shape[1]) if t[:, k].any()]
    return float(np.mean(values)) if values else math.nan


def concordance(durations: np.ndarray, risk: np.ndarray, observed: np.ndarray) -> float:
    """Harrell's concordance index of a *risk* score (higher = fails sooner) with right-censored
    durations; 0.5 is chance, 1.0 a perfect ranking. Computed by lifelines."""
    from lifelines.utils import concordance_index

    d, r = _pair(durations, risk, "concordance")
    e = np.asarray(observed, dtype=bool)
    if e.shape != d.shape:
        raise InputDataError(f"concordance: observed has shape {e.shape}, durations {d.shape}.")
    if not e.any():
        raise InputDataError("concordance: no observed event; the index is undefined.")
    return float(concordance_index(d, -r, e))


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) over seeds; NaNs are ignored."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0
