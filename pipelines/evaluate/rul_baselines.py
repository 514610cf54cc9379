"""RUL baselines on C-MAPSS windows: gradient boosting, a lifelines Weibull AFT model, and the
project's quantile MLP (``plantpulse.model.baseline.quantile_mlp``). Each is fitted on the training engines of
one subset, with the validation engines used only for stopping/calibration, and predicts the
last window of every test engine.

Each returns :class:`RulPrediction` (mean and, where the model has one, an 80 % interval).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plantpulse.model.baseline.window_weibull import fit_weibull, last_and_slope
from plantpulse.model.moe.training import TaskData
from plantpulse.pipelines.evaluate.features import rul_features
from plantpulse.pipelines.evaluate.gbm import fit_regressor
from plantpulse.pipelines.train.tasks.windows import chunked

CAP = 125.0


@dataclass(frozen=True)
class RulPrediction:
    mean: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None


def _cap_rows(n: int, limit: int | None, seed: int) -> np.ndarray:
    if limit is None or n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def gbm_rul(train: TaskData, val: TaskData, test: TaskData, max_iter: int, seed: int,
            max_rows: int | None) -> RulPrediction:
    """Gradient boosting on window features (last, mean, std, slope per channel)."""
    rows = _cap_rows(len(train), max_rows, seed)
    x = chunked(train.sensor, rul_features, rows)
    model = fit_regressor(x, train.targets[rows], chunked(val.sensor, rul_features), val.targets, max_iter, seed)
    return RulPrediction(np.clip(model.predict(chunked(test.sensor, rul_features)), 0, CAP))


def weibull_rul(train: TaskData, test: TaskData, seed: int, max_rows: int = 4000) -> RulPrediction:
    """Weibull accelerated-failure-time regression (lifelines, through
    :func:`plantpulse.model.baseline.window_weibull.fit_weibull`) on the last value and slope of
    each varying channel. The cap enters as right-censoring: a window whose RUL is at the cap
    is known only to have *at least* that much life left. Median and 10th/90th percentiles of
    the fitted survival function give the prediction and the 80 % interval."""
    rows = _cap_rows(len(train), max_rows, seed)
    feats = chunked(train.sensor, rul_features, rows)
    target = train.targets[rows].astype(float)  # cycles until failure; the offset counts the current one
    model = fit_weibull(feats, target, target < CAP, columns=last_and_slope(feats.shape[1] // 4), offset=1.0,
                        penalizers=(0.05,))
    return RulPrediction(*model.rul(chunked(test.sensor, rul_features), CAP))


def quantile_mlp_rul(raw_train: list[np.ndarray], raw_test_windows: np.ndarray, channels: tuple[str, ...],
                     seed: int, epochs: int) -> RulPrediction:
    """The project's baseline (window features -> quantile MLP, split-conformal 80 % interval),
    trained on raw (unstandardised) run-to-failure histories of the training engines."""
    from plantpulse.model.baseline.quantile_mlp import BaselineRulModel, RunToFailure

    runs = [RunToFailure(asset=str(i), values=v.astype(np.float64)) for i, v in enumerate(raw_train)]
    model = BaselineRulModel(channels, window=raw_test_windows.shape[1], cap=CAP).fit(runs, epochs=epochs, seed=seed)
    quantiles, _ = model.predict_arrays(raw_test_windows.astype(np.float64))
    return RulPrediction(np.clip(quantiles[:, 1], 0, CAP), quantiles[:, 0], quantiles[:, 2])


def km_curve(durations: np.ndarray, observed: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Kaplan-Meier survival estimate of ``durations`` evaluated on ``grid`` (lifelines)."""
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter().fit(durations, observed)
    return np.asarray(kmf.survival_function_at_times(grid), dtype=float)
