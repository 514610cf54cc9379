"""The shared skeleton of the single-label classification protocols (MaintNet, AI4I, weld):
per seed, the MoE teacher and student of the main experiment (or, per task, the task's own MoE),
the ablations (first seed), and each baseline, all scored on the same test split of the task builder."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from plantpulse.model.moe.training import TaskSplits
from plantpulse.pipelines.evaluate import experiments as X
from plantpulse.pipelines.evaluate.moe import outputs, subset_rows
from plantpulse.pipelines.evaluate.records import EvalContext, RowBuilder
from plantpulse.pipelines.evaluate.scoring import class_scores, plain_model

# a baseline: (train/val/test splits, test rows used, seed) -> (val probs, test probs)
Baseline = Callable[[TaskSplits, int], tuple[np.ndarray, np.ndarray]]


@dataclass
class Collected:
    """Rows plus, for the first seed, every model's val/test probabilities (for verdicts, plots)."""

    rows: dict[str, RowBuilder]
    first: dict[str, tuple[np.ndarray, np.ndarray]]
    splits: TaskSplits | None = None


def plain_baseline(ctx: EvalContext, dataset: str) -> Baseline:
    def fit(splits: TaskSplits, seed: int) -> tuple[np.ndarray, np.ndarray]:
        net, _ = plain_model(ctx, splits, seed, f"{dataset}-s{seed}")
        return outputs(net, splits.val)["probs"], outputs(net, splits.test)["probs"]
    return fit


def collect(ctx: EvalContext, dataset: str, task: str, baselines: dict[str, Baseline], case: str) -> Collected:
    found = Collected({}, {})
    for seed in ctx.seeds:
        full = X.bundle(ctx, dataset, seed).splits[task]
        splits = TaskSplits(full.train, full.val, subset_rows(full.test, ctx.budget.eval_rows))
        n = len(splits.train.task.classes)
        first = seed == ctx.seeds[0]
        if first:
            found.splits = splits
        specs = [(X.task_spec(ctx, dataset, seed), "MoE", "moe")]
        if first:
            specs += [(X.ablation_spec(a, seed), X.ABLATION_LABELS[a], "ablation") for a in X.ablation_names(ctx)]
        for spec, label, family in specs:
            models = X.get(ctx, spec)
            own = X.own_splits(ctx, spec, dataset, seed, task)  # same rows; the options may add channels
            assert np.array_equal(own.test.groups, full.test.groups), "the MoE's bundle splits differently"
            own = TaskSplits(own.train, own.val, subset_rows(own.test, ctx.budget.eval_rows))
            for kind, model in (("teacher", models.teacher), ("student", models.student)):
                if model is None:
                    continue
                name = f"{label} {kind}" if family == "moe" else label
                probs = (outputs(model, own.val)["probs"], outputs(model, own.test)["probs"])
                found.rows.setdefault(name, RowBuilder(name, family)).add(
                    case, class_scores(probs[1], splits.test.targets, n), seed,
                    models.wall_s if kind == "teacher" else 0.0)
                if first:
                    found.first[name] = probs
        for label, fit in baselines.items():
            start = time.perf_counter()
            probs = fit(splits, seed)
            found.rows.setdefault(label, RowBuilder(label, "baseline")).add(
                case, class_scores(probs[1], splits.test.targets, n), seed, time.perf_counter() - start)
            if first:
                found.first[label] = probs
    return found
