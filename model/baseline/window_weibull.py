"""A Weibull accelerated-failure-time model on window features as a predictor kind (``weibull``),
saved as plain arrays.

lifelines fits it (:func:`fit_weibull`) on the features of
:func:`plantpulse.model.baseline.window_gbm.features`, scaled by their training mean and standard
deviation, with each window's time to its end of life as the duration and right-censoring where
the end is not seen. What it learns is a handful of numbers: log-scale coefficients ``coef`` (K,),
an ``intercept`` and the shape ``log_rho``; the survival function is S(t | z) = exp(-(t / λ)^ρ) with
λ = exp(intercept + coef · z), so the time where S(t) = p is λ (-ln p)^(1/ρ). The median (p = 0.5)
is the RUL, p = 0.9 / 0.1 bound the 80 % interval. These are evaluated here with numpy: loading
never unpickles anything and scoring does not need lifelines.

Durations are fitted with an ``offset`` added (a window at its end of life has RUL 0, a Weibull
time must be positive) and predictions have it subtracted again.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import Prediction, SensorWindow
from plantpulse.model.baseline.window_gbm import WindowModel, read_arrays

FORMAT = "plantpulse-window-weibull/1"
PENALIZERS = (0.05, 0.5, 5.0)  # tried in turn: a stronger penalty when lifelines does not converge


class SurvivalFitError(InputDataError):
    """The survival model could not be fitted to these rows (with any penalty tried)."""


@dataclass(frozen=True)
class WeibullAft:
    """A fitted Weibull AFT model: ``columns`` (K,) the feature columns it reads, ``mean``/``std``
    (K,) their training scaling, ``coef`` (K,) and ``intercept`` of log λ, ``log_rho`` the shape,
    ``offset`` added to durations before fitting, ``penalizer`` the L2 penalty that converged."""

    columns: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    coef: np.ndarray
    intercept: float
    log_rho: float
    offset: float
    penalizer: float

    def time_at(self, feats: np.ndarray, p: float) -> np.ndarray:
        """(N, F) features -> (N,) the remaining time where the survival function falls to ``p``."""
        z = (feats[:, self.columns] - self.mean) / self.std
        lam = np.exp(np.clip(self.intercept + z @ self.coef, -50, 50))
        return lam * (-math.log(p)) ** (1.0 / math.exp(self.log_rho)) - self.offset

    def rul(self, feats: np.ndarray, cap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(median, 10th percentile, 90th percentile) of the remaining time, clipped to [0, cap]."""
        median, low, high = (np.clip(self.time_at(feats, p), 0, cap) for p in (0.5, 0.9, 0.1))
        return median, np.minimum(low, median), np.maximum(high, median)


def _one_fit(z: np.ndarray, duration: np.ndarray, observed: np.ndarray, penalizer: float) -> tuple[Any, str]:
    import pandas as pd
    from lifelines import WeibullAFTFitter
    from lifelines.exceptions import ConvergenceError

    frame = pd.DataFrame(z, columns=[f"f{i}" for i in range(z.shape[1])])
    frame["duration"], frame["observed"] = duration, observed
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lifelines warns on every hard step; the outcome is checked below
            fitter = WeibullAFTFitter(penalizer=penalizer).fit(frame, "duration", "observed")
    except (ConvergenceError, np.linalg.LinAlgError, ValueError) as err:
        return None, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    if not np.all(np.isfinite(fitter.params_.to_numpy())):
        return None, "non-finite coefficients"
    return fitter, ""


def last_and_slope(channels: int) -> np.ndarray:
    """The columns of the last value and the slope of each channel in the (last, mean, std, slope)
    window features: the survival model's inputs, in the C-MAPSS protocol and in ``plantpulse fit``."""
    return np.r_[0:channels, 3 * channels:4 * channels]


def fit_weibull(feats: np.ndarray, duration: np.ndarray, observed: np.ndarray, *,
                columns: np.ndarray | None = None, offset: float = 1.0,
                penalizers: Sequence[float] = PENALIZERS) -> WeibullAft:
    """Fit on (N, F) ``feats`` with (N,) ``duration`` (time to the end of life, or to censoring) and
    ``observed`` (the end of life is known). ``columns``: the feature columns to use (default all);
    those constant in these rows are dropped. A :class:`SurvivalFitError` says why when no penalty
    in ``penalizers`` gives a converged, finite fit."""
    picked = np.arange(feats.shape[1]) if columns is None else np.asarray(columns)
    keep = picked[feats[:, picked].std(0) > 1e-6]
    if len(feats) < 3 or not np.any(observed):
        raise SurvivalFitError(f"the survival model needs rows with an observed end of life; got {len(feats)} "
                               f"row(s), {int(np.sum(observed))} observed. Add assets that reach their end of life.")
    mean, std = feats[:, keep].mean(0), feats[:, keep].std(0)
    z = (feats[:, keep] - mean) / std
    tried = []
    for penalizer in penalizers:
        fitter, why = _one_fit(z, np.asarray(duration, float) + offset, np.asarray(observed, bool), penalizer)
        if fitter is None:
            tried.append(f"penalizer {penalizer:g}: {why}")
            continue
        params = fitter.params_
        coef = np.array([params[("lambda_", f"f{i}")] for i in range(len(keep))], dtype=np.float64)
        return WeibullAft(keep.astype(np.int64), mean.astype(np.float64), std.astype(np.float64), coef,
                          float(params[("lambda_", "Intercept")]), float(params[("rho_", "Intercept")]),
                          float(offset), float(penalizer))
    raise SurvivalFitError(f"the Weibull AFT model did not converge on {len(feats)} rows ({'; '.join(tried)}). "
                           f"Fewer, less correlated channels or more assets usually help.")


def save_weibull(path: Path | str, model: WeibullAft, meta: dict[str, Any]) -> Path:
    """Write ``model`` and ``meta`` (asset_type, target, channels, window, mean, std, rul_cap, features)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {"columns": model.columns, "feature_mean": model.mean, "feature_std": model.std, "coef": model.coef}
    header = {**meta, "intercept": model.intercept, "log_rho": model.log_rho, "offset": model.offset,
              "penalizer": model.penalizer}
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path),
              metadata={"format": FORMAT, "meta": json.dumps(header)})
    return path


class WindowWeibull(WindowModel):
    """The ``weibull`` predictor: one asset type's RUL as the median remaining time."""

    def __init__(self, name: str, meta: dict[str, Any], model: WeibullAft) -> None:
        super().__init__(name, meta)
        self.model = model

    def predict(self, windows: Sequence[SensorWindow], texts: Sequence[str | None] | None = None,
                features: np.ndarray | None = None) -> list[Prediction]:
        if not windows:
            return []
        median, low, high = self.model.rul(self.features(windows, features), float(self.meta["rul_cap"]))
        return [Prediction(rul_mean=float(m), rul_lower=float(lo), rul_upper=float(hi),
                           rul_quantiles={"0.1": float(lo), "0.5": float(m), "0.9": float(hi)})
                for m, lo, hi in zip(median, low, high, strict=True)]


def load(path: Path | str) -> WindowWeibull:
    """Load a ``weibull`` file written by :func:`save_weibull` (no code is executed)."""
    path = Path(path)
    tensors, meta = read_arrays(path, FORMAT, "weibull")
    model = WeibullAft(tensors["columns"], tensors["feature_mean"], tensors["feature_std"], tensors["coef"],
                       float(meta["intercept"]), float(meta["log_rho"]), float(meta["offset"]),
                       float(meta["penalizer"]))
    return WindowWeibull(path.stem, meta, model)
