"""Time to failure on Azure PdM with lifelines: Cox proportional hazards and Weibull AFT.

Durations are hours to the next failure. A sample's duration is censored where its period of
the split ends (training samples at the validation start, validation samples at the test start)
so fitting never reads a failure from a later period; test durations run to the end of the
event tables. The penalty is chosen on the validation concordance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from plantpulse.model.metrics import concordance
from plantpulse.model.moe.training import TaskData, TaskSplits
from plantpulse.pipelines.evaluate import plots
from plantpulse.pipelines.evaluate.records import EvalContext, RowBuilder
from plantpulse.pipelines.evaluate.rul_baselines import km_curve

HOUR = np.timedelta64(1, "h")
PENALTIES = (0.01, 0.1, 1.0)


@dataclass(frozen=True)
class SurvivalOutcome:
    plots: tuple
    notes: tuple[str, ...]
    test_events: int


def censored(data: TaskData, end: np.datetime64 | None) -> tuple[np.ndarray, np.ndarray]:
    """(durations in hours, observed) of ``data``, censored at ``end`` when given."""
    ttf = np.asarray(data.info["ttf_hours"], dtype=float)
    observed = np.asarray(data.info["failure_observed"], dtype=bool)
    if end is None:
        return np.maximum(ttf, 1e-3), observed
    # (N,) timedelta64; annotated because numpy's stubs type datetime64 - array-of-Any as datetime64
    remaining: np.ndarray = end - np.asarray(data.info["time"])
    left = remaining / HOUR
    return np.maximum(np.minimum(ttf, left), 1e-3), observed & (ttf <= left)


def _frame(x: np.ndarray, keep: np.ndarray, mean: np.ndarray, std: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame((x[:, keep] - mean) / std, columns=[f"f{i}" for i in range(len(keep))])


def _fit(kind: str, frame: pd.DataFrame, penalty: float):
    from lifelines import CoxPHFitter, WeibullAFTFitter

    fitter = CoxPHFitter(penalizer=penalty) if kind == "cox" else WeibullAFTFitter(penalizer=penalty)
    return fitter.fit(frame, "duration", "observed")


def _risk(kind: str, fitter, frame: pd.DataFrame) -> np.ndarray:
    if kind == "cox":
        return np.asarray(fitter.predict_partial_hazard(frame), dtype=float).ravel()
    return -np.asarray(fitter.predict_median(frame), dtype=float).ravel()


def azure_survival(ctx: EvalContext, splits: TaskSplits, x: list[np.ndarray],
                   rows: dict[str, RowBuilder]) -> SurvivalOutcome:
    """Fit Cox and Weibull AFT on the feature tables ``x`` (train, val, test); add their test
    concordance to ``rows``; plot Kaplan-Meier of the test durations against both models."""
    val_start, test_start = np.min(splits.val.info["time"]), np.min(splits.test.info["time"])
    d_train, e_train = censored(splits.train, val_start)
    d_val, e_val = censored(splits.val, test_start)
    d_test, e_test = censored(splits.test, None)
    keep = np.flatnonzero(x[0].std(0) > 1e-6)
    mean, std = x[0][:, keep].mean(0), x[0][:, keep].std(0)
    frames = [_frame(v, keep, mean, std) for v in x]
    train = frames[0].assign(duration=d_train, observed=e_train)
    grid = np.linspace(0, 1500, 151)
    curves, notes = {}, []
    for kind, label in (("cox", "Cox PH (lifelines), telemetry + logs"), ("weibull", "Weibull AFT (lifelines), telemetry + logs")):
        start = time.perf_counter()
        fitted = {p: _fit(kind, train, p) for p in PENALTIES}
        best = max(PENALTIES, key=lambda p: concordance(d_val, _risk(kind, fitted[p], frames[1]), e_val))
        model = fitted[best]
        c_index = concordance(d_test, _risk(kind, model, frames[2]), e_test)
        rows.setdefault(label, RowBuilder(label, "baseline")).add(
            "time to failure", {"c_index": c_index}, ctx.seeds[0], time.perf_counter() - start)
        curves[label.split(" (")[0] + ": mean predicted S(t)"] = np.asarray(
            model.predict_survival_function(frames[2], times=grid)).mean(1)
        notes.append(f"{label}: penalty {best} chosen on validation concordance.")
    km = km_curve(d_test, e_test, grid)
    plot = plots.survival(ctx, grid, km, curves, "Azure PdM time to next failure, test samples",
                          "azure_survival.png", "hours")
    return SurvivalOutcome((plot,), tuple(notes), failures_in_period(splits.test, d_test, e_test))


def failures_in_period(test: TaskData, durations: np.ndarray, observed: np.ndarray) -> int:
    """Distinct (machine, failure time) events within 24 h of a test sample's time."""
    t = np.asarray(test.info["time"], dtype="datetime64[h]")
    fail_at = t + np.round(durations).astype("timedelta64[h]")
    inside = observed & (durations <= 24)
    return len({(int(m), f) for m, f in zip(test.groups[inside], fail_at[inside], strict=True)})
