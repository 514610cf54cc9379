"""Stage 3 — distillation into a smaller student while the teacher keeps training.

Each step, per task: the teacher takes a supervised step on the batch (it keeps learning), and
the student learns from the same batch with α·(ground-truth loss) + (1-α)·(distillation loss
towards the teacher's outputs, computed in the same forward and detached). The student has half
the layers (at least two) and half the experts of the teacher (same width, so every adapter/head
kind carries over) and starts from the teacher's weights where they fit (:func:`warm_start_student`). The report gives both models' size, CPU speed and validation metrics.
"""

from __future__ import annotations

import copy
import dataclasses
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from plantpulse.model.moe.config import ModelConfig
from plantpulse.model.moe.layers.heads import HeadOutput
from plantpulse.model.moe.losses import distillation_loss, task_loss
from plantpulse.model.moe.network import PlantPulseModel
from plantpulse.model.moe.training.data import Batcher, TaskSplits
from plantpulse.model.moe.training.distributed import from_main, is_main_process, sync_parameters
from plantpulse.model.moe.training.finetune import (
    TaskStreams,
    fit_anomaly_radii,
    stage_steps,
    validate,
    validation_subset,
)
from plantpulse.model.moe.training.runtime import (
    EpochCallback,
    StageOptions,
    StageState,
    autocast,
    clip_and_step,
    make_optimizer,
    set_lr,
    update_router_biases,
)


def student_config(teacher: ModelConfig) -> ModelConfig:
    """Half the layers (at least two, when the teacher has two) and half the routed experts (at
    least one per group) of ``teacher``, each token using fewer experts than it may choose from (top-1
    of 2 for ``tiny``: with top-2 of 2 every token would use both, a dense layer). A one-layer student of the two-layer ``tiny`` teacher stayed
    about 20 % behind it on C-MAPSS validation RMSE (docs/model.md)."""
    groups = teacher.n_groups
    experts = max(groups, (teacher.n_experts // 2) // groups * groups)
    probe = teacher.replace(n_experts=experts, top_k=1)
    layers = max(min(2, teacher.n_layers), teacher.n_layers // 2)
    pool = probe.experts_per_token_pool  # a token still chooses among more experts than it uses
    return teacher.replace(n_layers=layers, n_experts=experts, top_k=min(teacher.top_k, max(1, pool - 1)))


def _expert_map(teacher: ModelConfig, student: ModelConfig) -> list[int]:
    """For each routed expert of ``student``, the teacher expert it starts from: the first experts
    of the same group (a group serves the same modality or token pool in both)."""
    per_t, per_s = teacher.n_experts // teacher.n_groups, student.n_experts // student.n_groups
    return [(e // per_s) * per_t + e % per_s for e in range(student.n_experts)]


@torch.no_grad()
def warm_start_student(teacher: PlantPulseModel, student: PlantPulseModel) -> int:
    """Copy the teacher's weights into ``student`` where they fit; the number of tensors copied.

    Embeddings, adapters, heads and normalisers carry over as they are; student layer i starts from
    teacher layer i; routed experts and their router columns come from the teacher's experts of the
    same group (:func:`_expert_map`). A student that starts from its teacher converges in a few
    distillation epochs instead of relearning the input representation from scratch.
    """
    mapping = torch.tensor(_expert_map(teacher.cfg, student.cfg))
    source = teacher.state_dict()
    copied = 0
    for name, target in student.state_dict().items():
        found = source.get(name)
        if found is None:
            continue
        if name.endswith("ffn.expert_bias") and found.shape != target.shape:
            found = found[mapping]
        elif name.endswith("router.lora.B") and found.shape != target.shape:
            found = found[:, mapping]
        elif ".ffn.experts." in name:
            prefix, rest = name.split(".ffn.experts.", 1)
            index, tail = rest.split(".", 1)
            found = source.get(f"{prefix}.ffn.experts.{int(mapping[int(index)])}.{tail}")
        if found is None or found.shape != target.shape:
            continue
        target.copy_(found)
        copied += 1
    return copied


def _detached(out: HeadOutput) -> HeadOutput:
    values = {f.name: getattr(out, f.name) for f in dataclasses.fields(out)}
    return type(out)(**{k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in values.items()})


@torch.no_grad()
def samples_per_second(model: PlantPulseModel, splits: TaskSplits, batcher: Batcher,
                       batch_size: int = 64, repeats: int = 3) -> float:
    """Forward throughput on one validation batch (median of ``repeats``)."""
    model.eval()
    rows = np.arange(min(batch_size, len(splits.val)))
    batch = batcher.inputs(splits.val, rows)
    name = splits.train.task.name
    model(batch, tasks=(name,))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(batch, tasks=(name,))
        times.append(time.perf_counter() - start)
    return len(rows) / float(np.median(times))


def _step(teacher, student, t_opt, s_opt, streams, index, rows, batcher, opts) -> float:
    data, spec, weights = streams.tasks[index].train, streams.tasks[index].train.task, streams.weights[index]
    batch, target = streams.inputs(batcher, data, rows), batcher.targets(data, rows)
    with autocast(batcher.device):
        t_out = teacher(batch, tasks=(spec.name,))
        t_loss = task_loss(t_out.tasks[spec.name], target, spec.rul_cap, weights, opts.rul_mse_weight,
                           opts.label_smoothing) + t_out.aux_loss
    t_loss.backward()
    clip_and_step(t_opt, list(teacher.parameters()), opts.grad_clip)
    update_router_biases(teacher)
    guide = _detached(t_out.tasks[spec.name])
    with autocast(batcher.device):
        s_out = student(batch, tasks=(spec.name,))
        own = s_out.tasks[spec.name]
        s_loss = (opts.distill_alpha * task_loss(own, target, spec.rul_cap, weights, opts.rul_mse_weight,
                                                 opts.label_smoothing)
                  + (1 - opts.distill_alpha) * distillation_loss(own, guide, opts.temperature)
                  + s_out.aux_loss)
    s_loss.backward()
    clip_and_step(s_opt, list(student.parameters()), opts.grad_clip)
    update_router_biases(student)
    return float(s_loss.detach())


def run_distill(teacher: PlantPulseModel, student: PlantPulseModel, tasks: list[TaskSplits],
                opts: StageOptions, batcher: Batcher, state: StageState | None = None,
                on_epoch: EpochCallback | None = None) -> StageState:
    """Train ``student`` from ``teacher`` (which keeps training); resumable; best student kept."""
    state = state or StageState(stage="distill")
    t_opt = make_optimizer(teacher, opts)
    s_opt = make_optimizer(student, opts)
    if state.optimizer:
        t_opt.load_state_dict(state.optimizer["teacher"])
        s_opt.load_state_dict(state.optimizer["student"])
    sync_parameters(teacher, student)
    best = state.extra.get("best_student") or copy.deepcopy(student.state_dict())
    steps = stage_steps(tasks, opts)
    while state.epoch < opts.epochs and not state.done:
        teacher.train()
        student.train()
        streams = TaskStreams(tasks, opts, state.epoch, 3)
        bar = tqdm(range(steps), desc=f"distill {state.epoch + 1}/{opts.epochs}",
                   disable=not (opts.show_progress and is_main_process()), leave=False)
        for step in bar:
            for optimizer in (t_opt, s_opt):
                set_lr(optimizer, state.epoch * steps + step, opts.epochs * steps, opts)
            loss = sum(_step(teacher, student, t_opt, s_opt, streams, i, rows, batcher, opts)
                       for i, rows in streams.draw())
            bar.set_postfix(loss=f"{loss:.3f}")
        score, metrics, _ = from_main(validate(student, tasks, batcher, opts))
        improved = state.record(score, opts.patience, metrics)
        if improved:
            best = copy.deepcopy(student.state_dict())
        state.optimizer = {"teacher": t_opt.state_dict(), "student": s_opt.state_dict()}
        state.extra = {"best_student": best}
        if on_epoch is not None:
            on_epoch(state, improved)
    student.load_state_dict(best)
    fit_anomaly_radii(student, tasks, batcher, opts.batch_size)
    fit_anomaly_radii(teacher, tasks, batcher, opts.batch_size)
    if is_main_process():  # only rank 0 publishes the report
        state.extra["report"] = distill_report(teacher, student, tasks, batcher, opts)
    return state


def distill_report(teacher: PlantPulseModel, student: PlantPulseModel, tasks: list[TaskSplits],
                   batcher: Batcher, opts: StageOptions) -> dict[str, float]:
    """Sizes, CPU speed and validation metrics of teacher and student, side by side."""
    report: dict[str, float] = {
        "teacher_params": float(teacher.parameter_counts()["total"]),
        "student_params": float(student.parameter_counts()["total"]),
    }
    for who, model in (("teacher", teacher), ("student", student)):
        report[f"{who}_samples_per_s"] = samples_per_second(model, tasks[0], batcher, opts.batch_size)
        _, metrics, _ = validate(model, tasks, batcher, opts)
        report.update({f"{who}/{k}": v for k, v in metrics.items()})
    return report


__all__ = ["run_distill", "student_config", "warm_start_student", "distill_report", "validation_subset"]
