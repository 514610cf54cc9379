"""The survival learner of a RUL fit: a Weibull AFT model (lifelines) on the same window features
as the gradient-boosting baseline, saved as the ``weibull`` predictor kind.

Unlike the other learners it fits every training window, censored ones included: a window of an
asset that never reached its end of life (or whose remaining life is beyond the cap) is a
right-censored duration — at least that long — rather than a row to drop. Durations are capped
like the targets (a window beyond the cap is censored there), so the model predicts what the
others do: the capped remaining life, as the median of its survival function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from plantpulse.model.baseline.window_weibull import fit_weibull, last_and_slope, save_weibull
from plantpulse.pipelines.fit.learners import FitData, Trained, window_inputs
from plantpulse.pipelines.fit.spec import FitSpec


def fit_survival(spec: FitSpec, data: FitData, path: Path, extra: dict[str, Any], rows: np.ndarray,
                 duration: np.ndarray, observed: np.ndarray, offset: float) -> Trained:
    """Fit on training ``rows`` (every window of the training assets) with (N,) ``duration`` (time to
    the end of life or to the last reading, uncapped) and ``observed``; ``offset`` (one grid step in
    the RUL unit) keeps durations positive. Raises
    :class:`~plantpulse.model.baseline.window_weibull.SurvivalFitError` when it cannot converge."""
    feats, meta = window_inputs(spec, data, extra)
    columns = None
    if not spec.snapshots:  # the last value and slope of each channel, then the log features (when fit on them)
        logged = 0 if data.log is None else data.log.values.shape[1]
        columns = np.r_[last_and_slope(len(data.channels)), feats.shape[1] - logged:feats.shape[1]]
    capped = np.minimum(duration[rows], data.rul_cap)
    event = observed[rows] & (duration[rows] < data.rul_cap)
    model = fit_weibull(feats[rows], capped, event, columns=columns, offset=offset)
    outs: dict[str, np.ndarray] = {}
    for part, part_rows in (("", data.test), ("val_", data.val)):
        median, low, high = model.rul(feats[part_rows], data.rul_cap)
        outs |= {part + "mean": median, part + "lower": low, part + "upper": high}
    save_weibull(path, model, meta)
    n_censored = int((~event).sum())
    inputs = "snapshot features" if spec.snapshots else "the last value and slope of each channel"
    if data.log is not None:
        inputs += " and the maintenance-log features"
    origin = (f"Weibull AFT survival model (lifelines, penalizer {model.penalizer:g}) on {inputs}; "
              f"{len(rows)} training windows, {n_censored} of them right-censored; RUL = median remaining time")
    return Trained("weibull", outs, path, origin=origin)
