"""Gradient-boosting baselines (scikit-learn's histogram GBM) with validation-chosen stopping.

The number of boosting rounds is chosen on the *validation* split (rounds are added 20 at a time
while the validation loss improves; the best round is kept), never on test. Classification uses balanced class weights
(the tasks are imbalanced and scored by macro-F1).

Classifier features are cut into at most 255 bins at class-weighted quantiles of the *training*
rows before fitting (:class:`Quantiles`, one sort per feature). scikit-learn bins the features
itself, but with sample weights (which balanced class weights are) it finds each feature's bin
edges with one weighted-percentile call per edge: 0.16 s per feature, so 33 s for a 600-row,
200-feature table that fits in 1.3 s without weights. Given at most 255 distinct values per
feature it takes them as they are, so fitting on the bin codes gives the same kind of weighted
binning at the unweighted cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import log_loss
from sklearn.utils.class_weight import compute_sample_weight

MAX_BINS = 255  # scikit-learn's default (and largest) number of bins for non-missing values


@dataclass(frozen=True)
class Quantiles:
    """Per-feature bin edges of the training rows, as scikit-learn would choose them: every distinct
    value when there are at most 255, else quantiles (weighted by ``weights`` when given);
    :meth:`codes` maps values to bin numbers (0 … 254, order kept, NaN stays NaN for the model's
    missing-value bin)."""

    edges: tuple[np.ndarray, ...]

    @classmethod
    def fit(cls, x: np.ndarray, weights: np.ndarray | None = None, bins: int = MAX_BINS) -> Quantiles:
        q = np.linspace(0, 1, bins + 1)[1:-1]
        x = np.asarray(x, dtype=np.float64)
        w_all = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
        edges = []
        for col in x.T:
            keep = np.isfinite(col) & (w_all > 0)
            values, w = col[keep], w_all[keep]
            distinct = np.unique(values)
            if len(distinct) <= bins:
                edges.append(distinct)
                continue
            order = np.argsort(values, kind="stable")
            cum = np.cumsum(w[order])
            at = np.minimum(np.searchsorted(cum, q * cum[-1], side="left"), len(cum) - 1)
            edges.append(np.unique(values[order][at]))
        return cls(tuple(edges))

    def codes(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.edges):
            raise ValueError(f"expected (N, {len(self.edges)}) features, got shape {x.shape}")
        out = np.empty(x.shape, dtype=np.float32)
        for j, edges in enumerate(self.edges):
            out[:, j] = np.searchsorted(edges, x[:, j], side="left")
        out[np.isnan(x)] = np.nan
        return out


@dataclass(frozen=True)
class FittedGbm:
    """A fitted model, the validation-chosen number of rounds and, for classifiers, the
    feature bins the model was fitted on."""

    model: HistGradientBoostingClassifier | HistGradientBoostingRegressor
    rounds: int
    bins: Quantiles | None = None

    def _x(self, x: np.ndarray) -> np.ndarray:
        return x if self.bins is None else self.bins.codes(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return _at(self.model.staged_predict(self._x(x)), self.rounds)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return _at(self.model.staged_predict_proba(self._x(x)), self.rounds)


def _at(stages: Iterable[np.ndarray], rounds: int) -> np.ndarray:
    """The prediction after ``rounds`` boosting rounds (the last one if the model has fewer)."""
    out: np.ndarray | None = None
    for index, value in enumerate(stages, start=1):
        out = value
        if index >= rounds:
            break
    assert out is not None, "a fitted booster yields at least one stage"
    return out


def _boost(model, x: np.ndarray, y: np.ndarray, val_loss, max_iter: int, step: int = 20,
           patience: int = 2) -> FittedGbm:
    """Add ``step`` rounds at a time (warm start) while the validation loss improves; stop after
    ``patience`` steps without improvement and keep the best round count."""
    best, best_rounds, bad, rounds = np.inf, 1, 0, 0
    while rounds < max_iter and bad < patience:
        rounds = min(rounds + step, max_iter)
        model.set_params(max_iter=rounds)
        model.fit(x, y)
        losses = val_loss(model)
        k = int(np.argmin(losses))
        if losses[k] < best - 1e-9:
            best, best_rounds, bad = float(losses[k]), k + 1, 0
        else:
            bad += 1
    return FittedGbm(model, best_rounds)


def fit_classifier(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                   max_iter: int, seed: int) -> FittedGbm:
    """Multi-class GBM on quantile-binned features (see the module text); rounds = argmin of
    validation log-loss (on the validation rows of classes seen in training: a class the training
    rows lack cannot be predicted, and its rows would leave the loss undefined)."""
    model = HistGradientBoostingClassifier(learning_rate=0.15, max_leaf_nodes=15, l2_regularization=1.0,
                                           class_weight="balanced", early_stopping=False,
                                           random_state=seed, warm_start=True, max_bins=MAX_BINS)
    bins = Quantiles.fit(x, compute_sample_weight("balanced", y))
    seen = np.isin(y_val, np.unique(y))
    codes_val, y_seen = bins.codes(x_val[seen]), y_val[seen]

    def val_loss(m) -> list[float]:
        if not len(y_seen):  # nothing to stop on: every round counts as better
            return [-float(i) for i in range(m.n_iter_)]
        return [log_loss(y_seen, p, labels=m.classes_) for p in m.staged_predict_proba(codes_val)]

    return replace(_boost(model, bins.codes(x), y, val_loss, max_iter), bins=bins)


def fit_regressor(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                  max_iter: int, seed: int) -> FittedGbm:
    """Squared-error GBM; rounds = argmin of validation MSE."""
    model = HistGradientBoostingRegressor(learning_rate=0.1, max_leaf_nodes=31, l2_regularization=1.0,
                                          early_stopping=False, random_state=seed, warm_start=True)

    def val_loss(m) -> list[float]:
        return [float(np.mean((p - y_val) ** 2)) for p in m.staged_predict(x_val)]

    return _boost(model, x, y, val_loss, max_iter)


def fit_multilabel(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                   max_iter: int, seed: int) -> list[FittedGbm | float]:
    """One binary GBM per label column; a label without positives in training becomes a constant
    0 probability (returned as the float 0.0)."""
    fitted: list[FittedGbm | float] = []
    for k in range(y.shape[1]):
        if y[:, k].min() == y[:, k].max():
            fitted.append(float(y[0, k]))
            continue
        if y_val[:, k].min() == y_val[:, k].max():  # no validation positive: stop on training loss
            fitted.append(fit_classifier(x, y[:, k], x, y[:, k], max_iter, seed))
            continue
        fitted.append(fit_classifier(x, y[:, k], x_val, y_val[:, k], max_iter, seed))
    return fitted


def multilabel_proba(models: list[FittedGbm | float], x: np.ndarray) -> np.ndarray:
    """(N, K) positive-class probabilities of :func:`fit_multilabel` models."""
    cols = [np.full(len(x), m) if isinstance(m, float) else m.predict_proba(x)[:, 1] for m in models]
    return np.stack(cols, axis=1)


def class_probabilities(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                        x_test: np.ndarray, n_classes: int, max_iter: int, seed: int) -> np.ndarray:
    """Fit :func:`fit_classifier` and return (N_test, n_classes) probabilities; classes absent
    from training (e.g. an unseen fault size) get probability 0. Validation rows of classes the
    model never saw are ignored for choosing the number of rounds."""
    seen = np.isin(y_val, np.unique(y))
    fitted = fit_classifier(x, y, x_val[seen], y_val[seen], max_iter, seed)
    out = np.zeros((len(x_test), n_classes))
    out[:, fitted.model.classes_.astype(int)] = fitted.predict_proba(x_test)
    return out
