"""AI4I 2020 (synthetic) milling machine: failure-type diagnosis from one row of measurements.

Six classes: no failure, tool wear (TWF), heat dissipation (HDF), power (PWF), overstrain (OSF),
random (RNF) failure; rows with several modes take the first in that order; the 9 rows marked
failed without a mode are left out (``plantpulse.pipelines.train.tasks.ai4i``). Split by product
(one row each), stratified 70/15/15 %, re-drawn per seed. Macro-F1 over the six classes (accuracy
is dominated by the 96.5 % "no failure" rows). RNF failures are random by construction of the
data generator, so no model can predict them from the measurements.
"""

from __future__ import annotations

import numpy as np

from plantpulse.model.metrics import confusion
from plantpulse.model.moe.training import TaskSplits
from plantpulse.pipelines.evaluate import experiments as X
from plantpulse.pipelines.evaluate import plots
from plantpulse.pipelines.evaluate.classify import collect, plain_baseline
from plantpulse.pipelines.evaluate.features import ai4i_features, tabular
from plantpulse.pipelines.evaluate.gbm import class_probabilities
from plantpulse.pipelines.evaluate.records import EvalContext, ProtocolResult, at_least_targets
from plantpulse.pipelines.train.tasks.ai4i import ASSET, CHANNELS, CLASSES, FAULT_TASK

CASE = "failure type"
# the teacher's target of the issue "the MoE earns its place"
TARGETS = (((CASE, "macro_f1"), "AI4I failure type macro-F1", 0.65),)


def gbm(ctx: EvalContext):
    def fit(splits: TaskSplits, seed: int) -> tuple[np.ndarray, np.ndarray]:
        stats = X.bundle(ctx, "ai4i2020", seed).normalizers[ASSET]
        mean, std = np.asarray(stats["mean"]), np.asarray(stats["std"])
        x = [ai4i_features(tabular(d.sensor), CHANNELS, mean, std) for d in (splits.train, splits.val, splits.test)]
        both = np.concatenate([x[1], x[2]])
        probs = class_probabilities(x[0], splits.train.targets, x[1], splits.val.targets, both,
                                    len(CLASSES), ctx.budget.gbm_iter, seed)
        return probs[: len(x[1])], probs[len(x[1]):]
    return fit


def run(ctx: EvalContext) -> ProtocolResult:
    found = collect(ctx, "ai4i2020", FAULT_TASK.name,
                    {"Gradient boosting (measurements + power, ΔT, wear·torque)": gbm(ctx),
                     "Plain network (MLP on the row)": plain_baseline(ctx, "ai4i2020")}, CASE)
    test = found.splits.test
    matrix = confusion(found.first["MoE teacher"][1].argmax(1), test.targets, len(CLASSES))
    plot = plots.confusion(ctx, matrix, CLASSES, "AI4I failure type, MoE teacher (test)", "ai4i_confusion.png")
    counts = np.bincount(test.targets.astype(int), minlength=len(CLASSES))
    built = tuple(r.row() for r in found.rows.values())
    return ProtocolResult(
        name="ai4i2020", title="AI4I 2020 failure-type diagnosis", protocol=__doc__.split("\n\n", 1)[1].strip(),
        columns=((CASE, "accuracy"), (CASE, "macro_f1")), rows=built,
        targets=at_least_targets(built, TARGETS),
        plots=(plot,),
        notes=("Test rows per class (first seed): " + ", ".join(f"{c} {n}" for c, n in zip(CLASSES, counts, strict=True))
               + f"; seeds {list(ctx.seeds)}.",))
