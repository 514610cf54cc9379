"""Stage 2 — multi-task fine-tuning with PCGrad (and optional uncertainty weighting).

Each step draws one batch per task, computes each task's loss (plus the MoE balance loss) on its
own forward pass, and combines the task gradients with PCGrad (projection only on conflict).
After each epoch every task is scored on its validation split — split by unit/asset/recording,
never by window — and training stops early when the mean normalised validation loss has not
improved for ``patience`` epochs; the best weights are restored at the end.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from plantpulse.model.moe.layers.heads import AnomalyHead
from plantpulse.model.moe.losses import UncertaintyWeighting, task_loss
from plantpulse.model.moe.network import PlantPulseModel
from plantpulse.model.moe.pcgrad import assign_flat_grad, flat_grad, pcgrad_step_gradients
from plantpulse.model.moe.training.data import Batcher, TaskData, TaskSplits, cycle_batches
from plantpulse.model.moe.training.distributed import data_seed, from_main, is_main_process, sync_parameters
from plantpulse.model.moe.training.metrics import evaluate
from plantpulse.model.moe.training.runtime import (
    EpochCallback,
    StageOptions,
    StageState,
    autocast,
    clip_and_step,
    make_optimizer,
    update_router_biases,
)


def validation_subset(data: TaskData, rows: int, seed: int) -> TaskData:
    """A fixed random subset of a validation split (the same rows every epoch)."""
    if len(data) <= rows:
        return data
    pick = np.sort(np.random.default_rng(seed).choice(len(data), rows, replace=False))
    return data.subset(pick)


def validate(model: PlantPulseModel, tasks: list[TaskSplits], batcher: Batcher,
             opts: StageOptions, baseline: dict[str, float] | None = None
             ) -> tuple[float, dict[str, float], dict[str, float]]:
    """Mean validation loss normalised by the first epoch's (so tasks weigh alike)."""
    metrics, losses = {}, {}
    for splits in tasks:
        sub = validation_subset(splits.val, opts.val_batches * opts.batch_size, opts.seed)
        result = evaluate(model, sub, batcher, opts.batch_size)
        losses[splits.train.task.name] = result["loss"]
        metrics.update({f"{splits.train.task.name}/{k}": v for k, v in result.items()})
    base = baseline or losses
    score = float(np.mean([losses[k] / max(abs(base[k]), 1e-8) for k in losses]))
    return score, metrics, losses


def task_losses(model: PlantPulseModel, tasks: list[TaskSplits], streams: list, batcher: Batcher,
                weighting: UncertaintyWeighting | None) -> Iterator[torch.Tensor]:
    """One loss per task, each on its own batch; yielded one at a time so that a caller can take
    the gradient and free that task's graph before the next forward."""
    for splits, stream in zip(tasks, streams, strict=True):
        data, spec = splits.train, splits.train.task
        rows = next(stream)
        with autocast(batcher.device):
            out = model(batcher.inputs(data, rows), tasks=(spec.name,))
            loss = task_loss(out.tasks[spec.name], batcher.targets(data, rows), spec.rul_cap)
        if weighting is not None:
            loss = weighting.weigh(spec.name, loss)
        yield loss + out.aux_loss


def backward_step(losses: Iterator[torch.Tensor], params: list[torch.nn.Parameter], use_pcgrad: bool,
                  generator: torch.Generator) -> tuple[float, int]:
    """Accumulate the step's gradients (PCGrad-combined or summed); returns (loss, conflicts)."""
    total, flats = 0.0, []
    for loss in losses:
        total += float(loss.detach())
        if use_pcgrad:
            flats.append(flat_grad(loss, params))
        else:
            loss.backward()
    if len(flats) > 1:
        return total, pcgrad_step_gradients(flats, params, generator).conflicts
    if flats:
        assign_flat_grad(params, flats[0])
    return total, 0


def run_finetune(model: PlantPulseModel, tasks: list[TaskSplits], opts: StageOptions,
                 batcher: Batcher, state: StageState | None = None,
                 on_epoch: EpochCallback | None = None) -> StageState:
    """Fine-tune all ``tasks`` together; resumable; restores the best validation weights."""
    state = state or StageState(stage="finetune")
    names = tuple(t.train.task.name for t in tasks)
    weighting = UncertaintyWeighting(names).to(batcher.device) if opts.uncertainty_weighting else None
    params = [p for p in model.parameters() if p.requires_grad]
    extra = list(weighting.parameters()) if weighting is not None else []
    optimizer = make_optimizer(params + extra, opts)
    if state.optimizer:
        optimizer.load_state_dict(state.optimizer)
        if weighting is not None:
            weighting.load_state_dict(state.extra["weighting"])
    sync_parameters(model, *([weighting] if weighting is not None else []))
    baseline = state.extra.get("baseline")
    best = state.extra.get("best_model") or copy.deepcopy(model.state_dict())
    generator = torch.Generator().manual_seed(opts.seed)
    while state.epoch < opts.epochs and not state.done:
        model.train()
        rng = np.random.default_rng(data_seed(opts.seed, state.epoch, 2))
        streams = [cycle_batches(t.train, opts.batch_size, rng) for t in tasks]
        conflicts = 0
        bar = tqdm(range(opts.steps_per_epoch), desc=f"finetune {state.epoch + 1}/{opts.epochs}",
                   disable=not (opts.show_progress and is_main_process()), leave=False)
        for _ in bar:
            losses = task_losses(model, tasks, streams, batcher, weighting)
            total, found = backward_step(losses, params + extra, opts.pcgrad and len(tasks) > 1, generator)
            conflicts += found
            clip_and_step(optimizer, params + extra, opts.grad_clip)
            update_router_biases(model)
            bar.set_postfix(loss=f"{total:.3f}")
        # rank 0's validation decides early stopping and the best weights for every rank
        score, metrics, raw = from_main(validate(model, tasks, batcher, opts, baseline))
        baseline = baseline or raw
        metrics["pcgrad_conflicts"] = float(conflicts)
        improved = state.record(score, opts.patience, metrics)
        if improved:
            best = copy.deepcopy(model.state_dict())
        state.optimizer = optimizer.state_dict()
        state.extra = {"baseline": baseline, "best_model": best,
                       "weighting": weighting.state_dict() if weighting is not None else {}}
        if on_epoch is not None:
            on_epoch(state, improved)
    model.load_state_dict(best)
    fit_anomaly_radii(model, tasks, batcher, opts.batch_size)
    return state


@torch.no_grad()
def fit_anomaly_radii(model: PlantPulseModel, tasks: list[TaskSplits], batcher: Batcher,
                      batch_size: int, max_rows: int = 2048) -> None:
    """Set each anomaly head's radius to the 95th percentile of normal training distances."""
    model.eval()
    for splits in tasks:
        spec = splits.train.task
        if spec.kind != "anomaly":
            continue
        normal = splits.train.subset(np.flatnonzero(splits.train.targets.astype(bool))[:max_rows])
        if len(normal) == 0:
            continue
        distances = []
        for rows in batcher.batches(normal, batch_size):
            out = model(batcher.inputs(normal, rows), tasks=(spec.name,)).tasks[spec.name]
            distances.append(out.distance.float())
        head = model.decoder.heads[spec.name]
        assert isinstance(head, AnomalyHead)
        head.fit_radius(torch.cat(distances))
