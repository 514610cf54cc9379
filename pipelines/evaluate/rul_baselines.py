"""RUL baselines on C-MAPSS windows: gradient boosting, a lifelines Weibull AFT model, and the
project's quantile MLP (``plantpulse.model.baseline.quantile_mlp``). Each is fitted on the training engines of
one subset, with the validation engines used only for stopping/calibration, and predicts the
last window of every test engine.

Each returns :class:`RulPrediction` (mean and, where the model has one, an 80 % interval).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from plantpulse.model.moe.training import TaskData
from plantpulse.pipelines.evaluate.features import chunked, rul_features
from plantpulse.pipelines.evaluate.gbm import fit_regressor

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


def _survival_frame(features: np.ndarray, keep: np.ndarray, mean: np.ndarray, std: np.ndarray) -> pd.DataFrame:
    z = (features[:, keep] - mean) / std
    return pd.DataFrame(z, columns=[f"f{i}" for i in range(z.shape[1])])


def weibull_rul(train: TaskData, test: TaskData, seed: int, max_rows: int = 4000) -> RulPrediction:
    """Weibull accelerated-failure-time regression (lifelines) on the last value and slope of
    each varying channel. The cap enters as right-censoring: a window whose RUL is at the cap
    is known only to have *at least* that much life left. Median and 10th/90th percentiles of
    the fitted survival function give the prediction and the 80 % interval."""
    from lifelines import WeibullAFTFitter

    rows = _cap_rows(len(train), max_rows, seed)
    feats = chunked(train.sensor, rul_features, rows)
    c = feats.shape[1] // 4
    picked = np.r_[0:c, 3 * c:4 * c]  # last value and slope
    spread = feats[:, picked].std(0)
    keep = picked[spread > 1e-6]
    mean, std = feats[:, keep].mean(0), feats[:, keep].std(0)
    frame = _survival_frame(feats, keep, mean, std)
    target = train.targets[rows].astype(float)
    frame["duration"] = target + 1.0  # cycles until failure, counting the current one
    frame["observed"] = target < CAP
    fitter = WeibullAFTFitter(penalizer=0.05).fit(frame, "duration", "observed")
    test_frame = _survival_frame(chunked(test.sensor, rul_features), keep, mean, std)

    def at(p: float) -> np.ndarray:  # lifelines' percentile p is the time where S(t) = p
        return np.clip(np.asarray(fitter.predict_percentile(test_frame, p=p), dtype=float).ravel() - 1.0, 0, CAP)

    return RulPrediction(at(0.5), at(0.9), at(0.1))


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
