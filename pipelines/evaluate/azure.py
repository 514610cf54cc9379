"""Azure PdM (synthetic): which component fails in the next 24 h, and time to failure.

Protocol: machines 1–20 (the telemetry subset), one sample every 3 h per machine; inputs are the
last 24 h of telemetry plus the machine's error and maintenance records (as text for the
networks, as counts / hours-since features for the feature models). **Split by time**: train
before 2015-03-01, validation 03-01 – 03-15, test from 03-16 (to 2015-04-01); a sample whose 24 h
look-ahead crosses a boundary is dropped. 24 h task: four labels (comp1–4 fails within 24 h);
PR-AUC (average precision per component, averaged) and macro-F1 over the four components at
per-component thresholds chosen on validation (the middle of the gap below the lowest
F1-maximising validation score, so a model that separates validation perfectly is not cut at its
least confident positive). Time to failure: hours to the machine's next
failure of any component; censored when none happens before the event tables end; **training
durations are censored at the validation start** so no label is read from a later period.
Concordance index (lifelines) on the test samples.
Synthetic data with generator artefacts (PROVENANCE): figures here test the pipeline, not
real-world skill; the test period holds few failures (counts below), so figures are noisy.
"""

from __future__ import annotations

import time

import numpy as np

from plantpulse.data.datasets import load_dataset
from plantpulse.model.metrics import best_f1_thresholds, concordance
from plantpulse.model.moe.training import TaskData, TaskSplits
from plantpulse.pipelines.evaluate import experiments as X
from plantpulse.pipelines.evaluate import survival as S
from plantpulse.pipelines.evaluate.gbm import fit_multilabel, multilabel_proba
from plantpulse.pipelines.evaluate.moe import outputs
from plantpulse.pipelines.evaluate.records import EvalContext, ProtocolResult, RowBuilder, at_least_targets
from plantpulse.pipelines.evaluate.scoring import multilabel_scores, plain_model
from plantpulse.pipelines.train.tasks.azure import FAILURE_TASK
from plantpulse.pipelines.train.tasks.azure_features import baseline_features

MODALITY_LABEL = {"sensor+text": "telemetry + logs", "sensor": "telemetry only", "text": "logs only"}
COLUMNS = (("failure within 24 h", "pr_auc"), ("failure within 24 h", "macro_f1"), ("time to failure", "c_index"))


def features(ctx: EvalContext, data: TaskData, which: str) -> np.ndarray:
    raw = ctx.cache.setdefault("raw:azure", load_dataset("azure_pdm", ctx.datasets_dir))
    return baseline_features(raw, data.sensor, data.groups, np.asarray(data.info["time"]), which)


def _risk_cindex(test: TaskData, risk: np.ndarray) -> float:
    return concordance(np.asarray(test.info["ttf_hours"], float), risk, np.asarray(test.info["failure_observed"]))


def _score(builder: RowBuilder, val_probs: np.ndarray, splits: TaskSplits, test_probs: np.ndarray,
           seed: int, wall: float) -> None:
    thresholds = best_f1_thresholds(val_probs, splits.val.targets)
    scores = multilabel_scores(test_probs, splits.test.targets, thresholds)
    builder.add("failure within 24 h", scores, seed, wall)
    builder.add("time to failure", {"c_index": _risk_cindex(splits.test, test_probs.max(1))})


def _moe_rows(ctx: EvalContext, rows: dict[str, RowBuilder], splits: TaskSplits, seed: int) -> None:
    main = X.task_spec(ctx, "azure_pdm", seed)
    specs = [(main, "MoE", "moe")]
    if seed == ctx.seeds[0]:  # one row per modality set, unless it is the reported model itself
        specs += [(X.azure_spec(ctx, m, seed), f"MoE teacher, Azure only, {MODALITY_LABEL[m]}", "ablation")
                  for m in X.AZURE_MODALITIES if X.azure_spec(ctx, m, seed) != main]
        specs += [(X.ablation_spec(n, seed), X.ABLATION_LABELS[n], "ablation") for n in X.ablation_names(ctx)]
    for spec, label, family in specs:
        models = X.get(ctx, spec)
        own = X.bundle(ctx, "azure_pdm", seed, **spec.bundle_options.get("azure_pdm", {})).splits[FAILURE_TASK.name]
        for kind, model in (("teacher", models.teacher), ("student", models.student)):
            if model is None or (kind == "student" and family != "moe"):
                continue
            name = f"{label} {kind}" if family == "moe" else label
            _score(rows.setdefault(name, RowBuilder(name, family)), outputs(model, own.val)["probs"], own,
                   outputs(model, own.test)["probs"], seed, models.wall_s if kind == "teacher" else 0.0)


def _baseline_rows(ctx: EvalContext, rows: dict[str, RowBuilder], splits: TaskSplits, seed: int) -> None:
    for which, label in MODALITY_LABEL.items():
        start = time.perf_counter()
        x = [features(ctx, d, which) for d in (splits.train, splits.val, splits.test)]
        models = fit_multilabel(x[0], splits.train.targets, x[1], splits.val.targets, ctx.budget.gbm_iter, seed)
        _score(rows.setdefault(f"Gradient boosting, {label}", RowBuilder(f"Gradient boosting, {label}", "baseline")),
               multilabel_proba(models, x[1]), splits, multilabel_proba(models, x[2]), seed,
               time.perf_counter() - start)
        part = _drop(splits, which)
        net, wall = plain_model(ctx, part, seed, f"azure-{which.replace('+', '-')}-s{seed}")
        _score(rows.setdefault(f"Plain CNN, {label}", RowBuilder(f"Plain CNN, {label}", "baseline")),
               outputs(net, part.val)["probs"], part, outputs(net, part.test)["probs"], seed, wall)


def _drop(splits: TaskSplits, which: str) -> TaskSplits:
    missing = {"sensor+text": (), "sensor": ("text",), "text": ("sensor",)}[which]
    parts = []
    for data in (splits.train, splits.val, splits.test):
        for modality in missing:
            data = data.without_modality(modality)
        parts.append(data)
    return TaskSplits(*parts)


def run(ctx: EvalContext) -> ProtocolResult:
    rows: dict[str, RowBuilder] = {}
    for seed in ctx.seeds:
        splits = X.bundle(ctx, "azure_pdm", seed).splits[FAILURE_TASK.name]
        _moe_rows(ctx, rows, splits, seed)
        if seed == ctx.seeds[0] or ctx.budget.baseline_all_seeds:  # the split does not depend on the seed
            _baseline_rows(ctx, rows, splits, seed)
    splits = X.bundle(ctx, "azure_pdm", ctx.seeds[0]).splits[FAILURE_TASK.name]
    x = [features(ctx, d, "sensor+text") for d in (splits.train, splits.val, splits.test)]
    survival = S.azure_survival(ctx, splits, x, rows)
    built = tuple(r.row() for r in rows.values())
    counts = {name: (int(d.targets.any(1).sum()), int(len(d))) for name, d in
              (("train", splits.train), ("validation", splits.val), ("test", splits.test))}
    return ProtocolResult(
        name="azure_pdm", title="Azure PdM: component failure within 24 h, time to failure",
        protocol=__doc__.split("\n\n", 1)[1].strip(), columns=COLUMNS, rows=built,
        targets=at_least_targets(built, TARGETS), plots=survival.plots,
        notes=("Positive samples / samples: " + ", ".join(f"{k} {p}/{n}" for k, (p, n) in counts.items())
               + f"; failure events in test: {survival.test_events}.", *survival.notes),
        details={"counts": counts})


# the MoE's targets (issue "the MoE earns its place"): 24 h macro-F1 and time-to-failure C-index
TARGETS = ((("failure within 24 h", "macro_f1"), "Azure 24 h failure macro-F1", 0.95),
           (("time to failure", "c_index"), "Azure time-to-failure C-index", 0.60))
