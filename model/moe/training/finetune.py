"""Stage 2 — multi-task fine-tuning with PCGrad (and optional uncertainty weighting).

Each step holds one batch slot per task; slots go to tasks by temperature sampling (∝ n^(1/T),
:mod:`.balance`), so a task may get two slots or none in a step. Each task drawn computes its
loss (class-weighted, divided by its running mean so no task dominates the shared gradient; plus
the MoE balance loss) on its own forward pass, and the task gradients are combined with PCGrad
(projection only on conflict). The learning rate warms up linearly, then decays by a cosine over
the stage's steps; an epoch is one pass over the tasks' training data unless a step count is given.
After each epoch every task is scored on its validation split — split by unit/asset/recording,
never by window, and for C-MAPSS made like the test (last windows of cut engines) — by its
headline test metric (RUL RMSE / cap, 1 - macro-F1, 1 - AUROC; with ``select_by="balanced-nll"``
a classification task by its class-balanced negative log-likelihood instead, :func:`balanced_nll`,
which does not jump when one row flips); training stops early when their
mean has not improved for ``patience`` epochs, and the best weights are restored at the end.
With ``average_epochs`` the weights validated and kept are an exponential moving average of the
trained ones (:class:`~plantpulse.model.moe.training.runtime.WeightAverage`).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from plantpulse.model.moe.batch import ModelInput
from plantpulse.model.moe.layers.heads import AnomalyHead
from plantpulse.model.moe.losses import UncertaintyWeighting, task_loss
from plantpulse.model.moe.network import PlantPulseModel
from plantpulse.model.moe.pcgrad import assign_flat_grad, flat_grad, pcgrad_step_gradients
from plantpulse.model.moe.training.balance import (
    LossNormalizer,
    class_weights,
    draw_slots,
    task_probabilities,
)
from plantpulse.model.moe.training.data import Batcher, TaskData, TaskSplits, cycle_batches
from plantpulse.model.moe.training.distributed import data_seed, from_main, is_main_process, sync_parameters
from plantpulse.model.moe.training.runtime import (
    EpochCallback,
    StageOptions,
    StageState,
    WeightAverage,
    autocast,
    clip_and_step,
    epoch_steps,
    make_optimizer,
    set_lr,
    update_router_biases,
)
from plantpulse.model.moe.training.validation import predict, task_metrics


def validation_subset(data: TaskData, rows: int, seed: int) -> TaskData:
    """A fixed random subset of a validation split (the same rows every epoch)."""
    if len(data) <= rows:
        return data
    pick = np.sort(np.random.default_rng(seed).choice(len(data), rows, replace=False))
    return data.subset(pick)


def selection_score(kind: str, metrics: dict[str, float], rul_cap: float) -> float:
    """Lower is better, in [0, 1]-ish units: the task's headline test metric on validation, or
    its class-balanced NLL where ``metrics`` holds one (``select_by="balanced-nll"``)."""
    if "balanced_nll" in metrics:
        return metrics["balanced_nll"]
    if kind == "rul":
        return metrics["rmse"] / rul_cap
    if kind == "anomaly":
        auc = metrics.get("auroc", math.nan)
        return 1.0 - auc if math.isfinite(auc) else 0.5
    return 1.0 - metrics["macro_f1"]


def balanced_nll(probs: np.ndarray, target: np.ndarray) -> float:
    """Negative log-likelihood of the true class, averaged within each class present, then over
    those classes: a smooth stand-in for macro-F1 (every class counts alike, a rare class's few rows
    included) that does not jump when one row's predicted class flips."""
    y = np.asarray(target).astype(int)
    nll = -np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))
    return float(np.mean([nll[y == k].mean() for k in np.unique(y)]))


def validate(model: PlantPulseModel, tasks: list[TaskSplits], batcher: Batcher, opts: StageOptions
             ) -> tuple[float, dict[str, float], dict[str, float]]:
    """(mean selection score over tasks, metrics per task, selection score per task)."""
    metrics, scores = {}, {}
    for splits in tasks:
        spec = splits.train.task
        sub = validation_subset(splits.val, opts.val_batches * opts.batch_size, opts.seed)
        outs, loss = predict(model, sub, batcher, opts.batch_size)
        result = {"loss": loss, **task_metrics(spec.kind, outs, spec.rul_cap)}
        if opts.select_by == "balanced-nll" and spec.kind == "classification":
            result["balanced_nll"] = balanced_nll(outs["probs"], outs["target"])
        scores[spec.name] = selection_score(spec.kind, result, spec.rul_cap)
        metrics.update({f"{spec.name}/{k}": v for k, v in result.items()})
        metrics[f"{spec.name}/selection"] = scores[spec.name]
    return float(np.mean(list(scores.values()))), metrics, scores


class TaskStreams:
    """Per-task batch streams plus the temperature sampler of a stage's epoch."""

    def __init__(self, tasks: list[TaskSplits], opts: StageOptions, epoch: int, stage: int) -> None:
        self.tasks = tasks
        rng = np.random.default_rng(data_seed(opts.seed, epoch, stage))  # batches: per rank
        self.rng = np.random.default_rng([opts.seed, epoch, stage, 7])  # tasks: the same on every rank
        self.streams = [cycle_batches(t.train, opts.batch_size, rng) for t in tasks]
        self.probs = task_probabilities([len(t.train) for t in tasks], opts.task_temperature)
        self.weights = [class_weights(t.train.task, t.train.targets, opts.class_weight_power) for t in tasks]
        self.flips = np.random.default_rng([opts.seed, epoch, stage, 11]) if opts.image_flips else None
        self.crop_min = opts.image_crop_min
        self.crops = np.random.default_rng([opts.seed, epoch, stage, 17]) if opts.image_crop_min < 1 else None
        self.word_dropout = opts.word_dropout
        self.words = np.random.default_rng([opts.seed, epoch, stage, 13]) if opts.word_dropout else None

    def inputs(self, batcher: Batcher, data: TaskData, rows: np.ndarray) -> ModelInput:
        """The batch of ``rows``, augmented when the stage asks for it: images mirrored at random,
        words of the texts hidden at random (masked like padding)."""
        batch = batcher.inputs(data, rows)
        if self.flips is not None and batch.image is not None:
            image = batch.image.clone()
            for dim in (-1, -2):  # left-right, up-down
                pick = torch.from_numpy(np.flatnonzero(self.flips.random(len(image)) < 0.5)).to(image.device)
                image[pick] = image[pick].flip(dim)
            batch = replace(batch, image=image)
        if self.crops is not None and batch.image is not None:
            batch = replace(batch, image=random_crops(batch.image, self.crop_min, self.crops))
        if self.words is not None and batch.text_mask is not None:
            mask = batch.text_mask
            drop = torch.from_numpy(self.words.random(tuple(mask.shape)) < self.word_dropout).to(mask.device)
            kept = mask & ~drop
            kept[:, 0] |= mask[:, 0] & ~kept.any(1)  # words fill from position 0: keep the first
            batch = replace(batch, text_mask=kept)
        return batch

    def draw(self) -> list[tuple[int, np.ndarray]]:
        """This step's (task index, rows): one slot per task, given out by temperature sampling."""
        slots = draw_slots(self.probs, len(self.tasks), self.rng) if len(self.tasks) > 1 else np.ones(1, int)
        return [(i, np.concatenate([next(self.streams[i]) for _ in range(n)]))
                for i, n in enumerate(slots) if n]


def random_crops(images: torch.Tensor, smallest: float, rng: np.random.Generator) -> torch.Tensor:
    """(B, C, H, W) images, each cut to a window of a uniform share in [``smallest``, 1] of its height
    and (independently) of its width, at a uniform place, and resized back to (H, W) bilinearly."""
    b, _, h, w = images.shape
    out = torch.empty_like(images)
    for i in range(b):
        ch = max(1, int(round(h * rng.uniform(smallest, 1.0))))
        cw = max(1, int(round(w * rng.uniform(smallest, 1.0))))
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = images[i:i + 1, :, top:top + ch, left:left + cw]
        out[i] = F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False)[0]
    return out


def stage_steps(tasks: list[TaskSplits], opts: StageOptions) -> int:
    return epoch_steps(opts, [len(t.train) for t in tasks], opts.batch_size * len(tasks))


def task_losses(model: PlantPulseModel, streams: TaskStreams, batcher: Batcher,
                weighting: UncertaintyWeighting | None, normalizer: LossNormalizer | None,
                rul_mse_weight: float = 0.0, label_smoothing: float = 0.0) -> Iterator[torch.Tensor]:
    """One loss per task drawn this step, each on its own batch; yielded one at a time so that a
    caller can take the gradient and free that task's graph before the next forward."""
    for index, rows in streams.draw():
        data, spec = streams.tasks[index].train, streams.tasks[index].train.task
        with autocast(batcher.device):
            out = model(streams.inputs(batcher, data, rows), tasks=(spec.name,))
            loss = task_loss(out.tasks[spec.name], batcher.targets(data, rows), spec.rul_cap,
                             streams.weights[index], rul_mse_weight, label_smoothing)
        if weighting is not None:
            loss = weighting.weigh(spec.name, loss)
        elif normalizer is not None:
            loss = normalizer(spec.name, loss)
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
    normalizer = LossNormalizer() if opts.loss_norm and weighting is None else None
    params = [p for p in model.parameters() if p.requires_grad]
    extra = list(weighting.parameters()) if weighting is not None else []
    optimizer = make_optimizer([model, *([weighting] if weighting is not None else [])], opts)
    if state.optimizer:
        optimizer.load_state_dict(state.optimizer)
        if weighting is not None:
            weighting.load_state_dict(state.extra["weighting"])
        if normalizer is not None:
            normalizer.load_state_dict(state.extra.get("loss_norm", {}))
    sync_parameters(model, *([weighting] if weighting is not None else []))
    best = state.extra.get("best_model") or copy.deepcopy(model.state_dict())
    generator = torch.Generator().manual_seed(opts.seed)
    steps = stage_steps(tasks, opts)
    average = WeightAverage(model, max(1.0, opts.average_epochs * steps)) if opts.average_epochs > 0 else None
    if average is not None and state.extra.get("average"):
        average.load_state_dict(state.extra["average"])
    while state.epoch < opts.epochs and not state.done:
        model.train()
        streams = TaskStreams(tasks, opts, state.epoch, 2)
        conflicts = 0
        bar = tqdm(range(steps), desc=f"finetune {state.epoch + 1}/{opts.epochs}",
                   disable=not (opts.show_progress and is_main_process()), leave=False)
        for step in bar:
            set_lr(optimizer, state.epoch * steps + step, opts.epochs * steps, opts)
            losses = task_losses(model, streams, batcher, weighting, normalizer, opts.rul_mse_weight,
                                 opts.label_smoothing)
            total, found = backward_step(losses, params + extra, opts.pcgrad and len(tasks) > 1, generator)
            conflicts += found
            clip_and_step(optimizer, params + extra, opts.grad_clip)
            update_router_biases(model)
            if average is not None:
                average.update(model)
            bar.set_postfix(loss=f"{total:.3f}")
        # rank 0's validation decides early stopping and the best weights for every rank; with a
        # weight average, the averaged weights are the ones validated and kept
        with average.applied(model) if average is not None else contextlib.nullcontext():
            score, metrics, _ = from_main(validate(model, tasks, batcher, opts))
            metrics["pcgrad_conflicts"] = float(conflicts)
            improved = state.record(score, opts.patience, metrics)
            if improved:
                best = copy.deepcopy(model.state_dict())
        state.optimizer = optimizer.state_dict()
        state.extra = {"best_model": best, "loss_norm": normalizer.state_dict() if normalizer else {},
                       "weighting": weighting.state_dict() if weighting is not None else {},
                       "average": average.state_dict() if average is not None else {}}
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
