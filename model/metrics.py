"""Every metric PlantPulse reports, each a plain function of numpy arrays with a known-answer test
(tests/model/test_metrics.py). Built on scikit-learn, scipy and lifelines; used by training
(validation and model selection), the evaluation protocols and the weld verdicts.

RUL: :func:`rmse`, :func:`mae`, :func:`phm08_score` (the asymmetric PHM 2008 challenge score),
:func:`coverage` and :func:`mean_width` of a prediction interval. Classification:
:func:`accuracy`, :func:`macro_f1`, :func:`pr_auc` (average precision per label, averaged over
labels that have a positive), :func:`roc_auc`, :func:`confusion`, :func:`best_f1_threshold`.
Rates: :func:`wilson_interval`. Survival: :func:`concordance` (Harrell's C, censoring-aware).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn import metrics as skm

from plantpulse.data.core.errors import InputDataError

ArrayLike = Sequence[float] | np.ndarray


def _pair(pred: ArrayLike, true: ArrayLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    if p.shape != t.shape or p.ndim != 1 or p.size == 0:
        msg = f"{name} needs two non-empty 1-D arrays of one length; got shapes {p.shape} and {t.shape}."
        raise InputDataError(msg)
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise InputDataError(f"{name}: predictions or targets contain NaN or inf.")
    return p, t


# ---------------------------------------------------------------------------------------- RUL
def rmse(pred: ArrayLike, true: ArrayLike) -> float:
    """Root mean squared error."""
    p, t = _pair(pred, true, "rmse")
    return float(np.sqrt(skm.mean_squared_error(t, p)))


def mae(pred: ArrayLike, true: ArrayLike) -> float:
    """Mean absolute error."""
    p, t = _pair(pred, true, "mae")
    return float(skm.mean_absolute_error(t, p))


def phm08_score(pred: ArrayLike, true: ArrayLike) -> float:
    """PHM08 score Σ s_i with d = pred - true: exp(-d/13) - 1 when early (d < 0), exp(d/10) - 1
    when late (d ≥ 0). Late predictions cost more, as a missed failure does (Saxena et al. 2008)."""
    p, t = _pair(pred, true, "phm08_score")
    d = p - t
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


def _interval(true: ArrayLike, lower: ArrayLike, upper: ArrayLike, name: str
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t, lo = _pair(true, lower, name)
    _, hi = _pair(true, upper, name)
    if np.any(lo > hi):
        raise InputDataError(f"{name}: some intervals have lower > upper.")
    return t, lo, hi


def coverage(true: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of targets inside their closed interval [lower, upper]."""
    t, lo, hi = _interval(true, lower, upper, "coverage")
    return float(np.mean((t >= lo) & (t <= hi)))


def mean_width(lower: ArrayLike, upper: ArrayLike) -> float:
    """Mean width upper - lower of prediction intervals (in the target's unit)."""
    _, lo, hi = _interval(lower, lower, upper, "mean_width")
    return float(np.mean(hi - lo))


# ----------------------------------------------------------------------------- classification
def _labels(pred: ArrayLike, true: ArrayLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(pred), np.asarray(true)
    if p.shape != t.shape or p.size == 0:
        msg = f"{name} needs predictions and labels of one non-empty shape; got {p.shape} and {t.shape}."
        raise InputDataError(msg)
    return p, t


def accuracy(pred: ArrayLike, true: ArrayLike) -> float:
    p, t = _labels(pred, true, "accuracy")
    return float(np.mean(p == t))


def macro_f1(pred: ArrayLike, true: ArrayLike, labels: Sequence[int] | None = None) -> float:
    """Unweighted mean of per-class F1.

    Single-label (N,): over ``labels`` (default: the classes present in ``true`` or ``pred``).
    Multilabel (N, K) {0, 1}: the positive-class F1 of each of the K labels, averaged.
    """
    p, t = _labels(pred, true, "macro_f1")
    if p.ndim == 2:
        return float(skm.f1_score(t.astype(int), p.astype(int), average="macro", zero_division=0))
    return float(skm.f1_score(t, p, labels=labels, average="macro", zero_division=0))


def _scores(scores: ArrayLike, true: ArrayLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    s, t = np.asarray(scores, dtype=np.float64), np.asarray(true)
    if s.shape != t.shape or s.size == 0:
        raise InputDataError(f"{name} needs scores and labels of one non-empty shape; got {s.shape} and {t.shape}.")
    if not np.isfinite(s).all():
        raise InputDataError(f"{name}: scores contain NaN or inf.")
    return s, t.astype(bool)


def pr_auc(scores: ArrayLike, true: ArrayLike) -> float:
    """Average precision per label (columns of (N, K) arrays, or one (N,) label), averaged over
    labels with at least one positive; NaN when no label has a positive."""
    s, t = _scores(scores, true, "pr_auc")
    s, t = s.reshape(len(s), -1), t.reshape(len(t), -1)
    values = [skm.average_precision_score(t[:, k], s[:, k]) for k in range(t.shape[1]) if t[:, k].any()]
    return float(np.mean(values)) if values else math.nan


def roc_auc(scores: ArrayLike, positive: ArrayLike) -> float:
    """Area under the ROC curve of ``scores`` (N,) for the binary labels ``positive`` (N,): the chance
    that a random positive scores higher than a random negative (ties count half). NaN when one
    of the two classes is absent."""
    s, t = _scores(scores, positive, "roc_auc")
    if s.ndim != 1:
        raise InputDataError(f"roc_auc needs 1-D scores and labels; got shape {s.shape}.")
    if t.all() or not t.any():
        return math.nan
    return float(skm.roc_auc_score(t, s))


def confusion(pred: ArrayLike, true: ArrayLike, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts: rows the true class, columns the predicted one."""
    p, t = _labels(pred, true, "confusion")
    return skm.confusion_matrix(t.astype(int), p.astype(int), labels=list(range(n_classes)))


def best_f1_threshold(scores: ArrayLike, true: ArrayLike) -> float:
    """A score threshold (predict positive when score >= threshold) that maximises F1 on these
    (validation) rows; 0.5 when there is no positive.

    Every threshold between the lowest F1-maximising score and the next lower score gives the same
    predictions on these rows; the midpoint of that gap is returned, not its upper end. A model
    that separates validation perfectly with saturated probabilities (positives at 0.9998,
    negatives below 0.003) would otherwise get a threshold at its least confident positive, which
    rejects most positives of new data, while the midpoint keeps the margin on both sides."""
    s, t = _scores(scores, true, "best_f1_threshold")
    if s.ndim != 1:
        raise InputDataError(f"best_f1_threshold needs 1-D scores and labels; got shape {s.shape}.")
    if not t.any():
        return 0.5
    precision, recall, thresholds = skm.precision_recall_curve(t, s)
    p, r = precision[:-1], recall[:-1]  # the last point (recall 0) has no threshold
    f1 = np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=(p + r) > 0)
    best = float(thresholds[int(np.argmax(f1))])
    below = s[s < best]
    return best if below.size == 0 else float((best + below.max()) / 2)


def best_f1_thresholds(scores: np.ndarray, true: np.ndarray) -> np.ndarray:
    """:func:`best_f1_threshold` for each column of (N, K) multilabel scores -> (K,)."""
    s, t = _scores(scores, true, "best_f1_thresholds")
    if s.ndim != 2:
        raise InputDataError(f"best_f1_thresholds needs (N, K) scores and labels; got shape {s.shape}.")
    return np.array([best_f1_threshold(s[:, k], t[:, k]) for k in range(s.shape[1])])


# ---------------------------------------------------------------------------- rates, survival
def wilson_interval(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (``(0, 1)`` when ``total`` is 0): with few
    trials a rate of 0 is far from proven, and the interval says how far."""
    from scipy.stats import binomtest

    if total == 0:
        return 0.0, 1.0
    ci = binomtest(int(successes), int(total)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


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
