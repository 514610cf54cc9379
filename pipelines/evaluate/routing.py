"""Expert load per task and modality: which routed experts the MoE actually uses.

Runs the first seed's teacher and student over (up to ``rows``) test samples of every task and
sums each MoE layer's per-modality expert load (``RouterStats.modality_load``: computed
token-to-expert assignments). Each heatmap row is one (task, modality) pair normalised to 1.
With a per-task budget each row comes from that task's own teacher (C-MAPSS: the FD001 model).
"""

from __future__ import annotations

import numpy as np
import torch

from plantpulse.model.moe.config import MODALITIES
from plantpulse.model.moe.network import PlantPulseModel
from plantpulse.model.moe.training import TaskData
from plantpulse.pipelines.evaluate import experiments as X
from plantpulse.pipelines.evaluate import plots
from plantpulse.pipelines.evaluate.cmapss import case_splits
from plantpulse.pipelines.evaluate.moe import batcher_for, subset_rows
from plantpulse.pipelines.evaluate.records import EvalContext, ProtocolResult


@torch.no_grad()
def modality_load(model: PlantPulseModel, data: TaskData, batch_size: int = 64) -> np.ndarray:
    """(M, E) routed assignments per modality over all layers for ``data``'s rows."""
    batcher = batcher_for(model)
    model.eval()
    total = None
    for rows in batcher.batches(data, batch_size):
        out = model(batcher.inputs(data, rows), tasks=(data.task.name,))
        for stats in out.router:
            load = stats.modality_load.float().cpu().numpy()
            total = load if total is None else total + load
    return total if total is not None else np.zeros((len(MODALITIES), 0))


def task_tests(ctx: EvalContext, rows: int) -> list[TaskData]:
    """A test subset of every task of the main experiment (first seed)."""
    out = []
    for dataset in X.ALL_DATASETS:
        for splits in X.bundle(ctx, dataset, ctx.seeds[0]).splits.values():
            if splits.test is not None and len(splits.test):
                out.append(subset_rows(splits.test, rows, ctx.seeds[0]))
    return out


def heat(model: PlantPulseModel, tests: list[TaskData]) -> tuple[np.ndarray, list[str], dict]:
    shares, labels, raw = [], [], {}
    for data in tests:
        load = modality_load(model, data)
        for m, modality in enumerate(MODALITIES):
            if load.size and load[m].sum() > 0:
                shares.append(load[m] / load[m].sum())
                labels.append(f"{data.task.name} ({modality})")
                raw[labels[-1]] = load[m].tolist()
    return np.stack(shares) if shares else np.zeros((0, 0)), labels, raw


def per_task_heat(ctx: EvalContext, rows: int) -> tuple[np.ndarray, list[str], dict]:
    """Per-task scope: each task's own teacher routing its own test subset (first seed; C-MAPSS: FD001)."""
    seed, parts = ctx.seeds[0], []
    for dataset in X.ALL_DATASETS:
        if dataset == "cmapss":
            spec = X.task_spec(ctx, dataset, seed, name="cmapss-FD001", subsets=["FD001"])
            test = case_splits(ctx, spec, "FD001", seed)[1].test
        else:
            spec = X.task_spec(ctx, dataset, seed)
            test = X.own_splits(ctx, spec, dataset, seed, X.TASK_OF[dataset]).test
        parts.append(heat(X.get(ctx, spec).teacher, [subset_rows(test, rows, seed)]))
    shares = [p[0] for p in parts if len(p[1])]
    labels = [label for p in parts for label in p[1]]
    raw = {k: v for p in parts for k, v in p[2].items()}
    return (np.concatenate(shares) if shares else np.zeros((0, 0))), labels, raw


def run(ctx: EvalContext) -> ProtocolResult:
    rows = 64 if ctx.quick else 256
    if X.per_task(ctx):
        heats = {"teacher": per_task_heat(ctx, rows)}
    else:
        models = X.get(ctx, X.main_spec(ctx.seeds[0]))
        tests = task_tests(ctx, rows)
        heats = {kind: heat(model, tests) for kind, model in (("teacher", models.teacher),
                                                              ("student", models.student)) if model is not None}
    plot_list, details, notes = [], {}, []
    for kind, (shares, labels, raw) in heats.items():
        details[kind] = raw
        if len(labels):
            plot_list.append(plots.expert_heatmap(ctx, shares, labels, f"Expert load per task and modality, MoE {kind}",
                                                  f"experts_{kind}.png"))
            used = (shares > 0.01).sum(1)
            notes.append(f"MoE {kind}: each (task, modality) row uses {used.min()}–{used.max()} of "
                         f"{shares.shape[1]} routed experts (> 1 % of its tokens).")
    return ProtocolResult(
        name="experts", title="Expert load per task and modality", protocol=__doc__.split("\n\n", 1)[1].strip(),
        columns=(), rows=(), plots=tuple(plot_list), notes=tuple(notes), details=details)
