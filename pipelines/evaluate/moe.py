"""The MoE teacher and student of one experiment: trained by the project's training job (the code
behind ``plantpulse train``) or loaded from committed checkpoints, then scored on test splits.

An experiment is a :class:`MoeSpec` (datasets, tasks, seed, model overrides, which stages).
Training runs in ``<work_dir>/<name>/`` without registering model versions; the finished teacher
and student are copied to ``<checkpoint_dir>/<name>-teacher.safetensors`` / ``-student``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from plantpulse.data.core.errors import CheckpointError
from plantpulse.model.moe.checkpoint import load_checkpoint, read_metadata
from plantpulse.model.moe.layers.embeddings import HashingTokenizer
from plantpulse.model.moe.network import PlantPulseModel
from plantpulse.model.moe.training import Batcher, TaskData
from plantpulse.model.moe.training.validation import predict
from plantpulse.pipelines.evaluate.records import RETRAIN_HINT, EvalContext, trained_on_other_data

PLAIN_VOCAB = 2048
PLAIN_TEXT_LEN = 48
# training options a per-task recipe may set for its dataset; a key the budget has no field for
# takes the training job's default
TRAINING_KEYS: tuple[str, ...] = ("lr", "batch_size", "patience", "class_weight_power", "image_flips",
                                  "word_dropout", "average_epochs", "image_crop_min", "rul_mse_weight",
                                  "label_smoothing", "weight_decay")


@dataclass(frozen=True)
class MoeSpec:
    """One MoE experiment. ``bundle_options``: dataset -> keyword options of its task builder."""

    name: str
    datasets: tuple[str, ...]
    seed: int = 0
    tasks: tuple[str, ...] = ()
    overrides: dict[str, Any] = field(default_factory=dict)
    pretrain: bool = True
    pcgrad: bool = True
    distill: bool = True
    bundle_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    epochs: dict[str, int] = field(default_factory=dict)  # stage -> epochs, over the budget's
    training: dict[str, Any] = field(default_factory=dict)  # a TRAINING_KEYS key -> value, over the budget's
    members: int = 1  # teachers averaged on one split (see experiments.member_specs)

    def option(self, ctx: EvalContext, key: str) -> Any:
        """A training option of this experiment: its own value, else the budget's (else the default)."""
        from plantpulse.pipelines.train.job import TrainRequest

        if key in self.training:
            return self.training[key]
        return getattr(ctx.budget, key) if key in type(ctx.budget).model_fields else getattr(TrainRequest(), key)

    def stage_epochs(self, ctx: EvalContext) -> dict[str, int]:
        b = ctx.budget
        return {"pretrain": b.pretrain_epochs, "finetune": b.finetune_epochs, "distill": b.distill_epochs,
                **self.epochs}


@dataclass(frozen=True)
class MoeModels:
    """teacher / student (None without distillation), the training wall time in seconds, and per
    kind the checkpoint's ``extra`` (normalisers, calibrated RUL intervals)."""

    spec: MoeSpec
    teacher: PlantPulseModel
    student: PlantPulseModel | None
    wall_s: float
    paths: dict[str, Path]
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)


def checkpoint_paths(ctx: EvalContext, spec: MoeSpec) -> dict[str, Path]:
    kinds = ("teacher", "student") if spec.distill else ("teacher",)
    return {k: ctx.checkpoint_dir / f"{spec.name}-{k}.safetensors" for k in kinds}


def _request(ctx: EvalContext, spec: MoeSpec, stage: str):
    from plantpulse.pipelines.train.job import TrainRequest

    b = ctx.budget
    return TrainRequest(
        stage=stage, preset=b.preset, datasets=spec.datasets, tasks=spec.tasks,
        epochs=spec.stage_epochs(ctx),
        steps=b.moe_steps, seed=spec.seed, device=b.device, name=spec.name, resume=True, pcgrad=spec.pcgrad,
        model_overrides={**b.moe_overrides, **spec.overrides}, register_versions=False,
        eval_rows=64, val_rows=b.val_rows, show_progress=False, bundle_options=spec.bundle_options,
        **{key: spec.option(ctx, key) for key in TRAINING_KEYS})


def train(ctx: EvalContext, spec: MoeSpec) -> dict[str, Path]:
    """Run the training job's stages for ``spec``; returns the published checkpoint per kind."""
    from plantpulse.data.core.config.settings import Settings
    from plantpulse.pipelines.train.job import run

    settings = Settings(home=ctx.work_dir / spec.name, datasets_dir=ctx.datasets_dir)
    stages = [s for s, on in (("pretrain", spec.pretrain), ("finetune", True), ("distill", spec.distill)) if on]
    if len(stages) == 3:
        stages = ["all"]  # one call: the datasets are built once
    published: dict[str, Path] = {}
    for stage in stages:
        result = run(settings, _request(ctx, spec, stage), echo=lambda line: ctx.echo(f"  [{spec.name}] {line}"))
        published.update(result.checkpoints)
    return published


def obtain(ctx: EvalContext, spec: MoeSpec, trained_on: Callable[[], str] | None = None) -> MoeModels:
    """Train (or, with ``from_checkpoint``, load) the experiment's teacher and student.

    Every finished experiment leaves ``<name>.json`` beside its checkpoints: the equivalent
    ``plantpulse train`` command(s) and the training wall time. A later run (another protocol run
    separately) with the same commands reuses those checkpoints instead of training again.

    ``trained_on`` gives the fingerprint of the data a training run of ``spec`` would see now.
    Equal commands do not prove equal data (a task builder's default may have changed its split),
    so a checkpoint whose stored fingerprint differs is not reused but trained again, and with
    ``from_checkpoint`` refused: scoring it could score rows it was trained on.
    """
    targets = checkpoint_paths(ctx, spec)
    record = _read_record(ctx, spec)
    reuse = record is not None and record.get("commands") == train_commands(ctx, spec) and all(
        p.is_file() for p in targets.values())
    if (reuse or ctx.from_checkpoint) and trained_on is not None:
        stale = stale_data(targets, trained_on)
        if stale and ctx.from_checkpoint:
            raise CheckpointError(f"{stale} {RETRAIN_HINT}")
        if stale:
            ctx.echo(f"  [{spec.name}] not reusing the earlier checkpoints: {stale}")
            reuse = False
    if not ctx.from_checkpoint and not reuse:
        start = time.perf_counter()
        published = train(ctx, spec)
        ctx.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        for kind, path in targets.items():
            shutil.copyfile(published[kind], path)
        record = {"commands": train_commands(ctx, spec), "budget": ctx.budget.name,
                  "wall_s": round(time.perf_counter() - start, 1)}
        _record_path(ctx, spec).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    elif reuse:
        ctx.echo(f"  [{spec.name}] reusing the checkpoints of an earlier run with the same commands")
    missing = [str(p) for p in targets.values() if not p.is_file()]
    if missing:
        raise CheckpointError(f"Missing checkpoint(s) {missing}; run `plantpulse evaluate` without "
                              f"--from-checkpoint to train them.")
    loaded = {kind: load_checkpoint(path) for kind, path in targets.items()}
    models = {kind: model for kind, (model, _) in loaded.items()}
    wall = float(record["wall_s"]) if record else _recorded_wall(targets)
    return MoeModels(spec, models["teacher"], models.get("student"), round(wall, 1), targets,
                     {kind: meta.extra for kind, (_, meta) in loaded.items()})


def stale_data(targets: dict[str, Path], trained_on: Callable[[], str]) -> str | None:
    """Why the checkpoints at ``targets`` were not trained on the data ``trained_on`` fingerprints,
    or None when they were (or when a checkpoint is missing or predates stored fingerprints)."""
    stored = {kind: read_metadata(path).data_fingerprint for kind, path in targets.items() if path.is_file()}
    if not any(stored.values()):
        return None
    expected = trained_on()
    for kind, found in stored.items():
        if found and found != expected:
            return trained_on_other_data(targets[kind], found, expected)
    return None


def _record_path(ctx: EvalContext, spec: MoeSpec) -> Path:
    return ctx.checkpoint_dir / f"{spec.name}.json"


def _read_record(ctx: EvalContext, spec: MoeSpec) -> dict[str, Any] | None:
    path = _record_path(ctx, spec)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _recorded_wall(paths: dict[str, Path]) -> float:
    """The training wall time stored in the last-written checkpoint's metrics (0 if absent)."""
    metrics = [read_metadata(p).metrics for p in paths.values()]
    return float(max((m.get("wall_seconds", 0.0) for m in metrics), default=0.0))


def batcher_for(model: PlantPulseModel) -> Batcher:
    return Batcher.for_model(model)


def subset_rows(data: TaskData, limit: int | None, seed: int = 0) -> TaskData:
    """At most ``limit`` rows of ``data`` (a fixed random subset; quick runs only)."""
    if limit is None or len(data) <= limit:
        return data
    rows = np.sort(np.random.default_rng(seed).choice(len(data), limit, replace=False))
    # per-row entries of ``info`` (file names, times) follow the rows; TaskData.subset keeps info as is
    info = {k: (np.asarray(v, dtype=object)[rows].tolist() if isinstance(v, list | tuple) else v[rows])
            if isinstance(v, list | tuple | np.ndarray) and len(v) == len(data) else v
            for k, v in data.info.items()}
    return replace(data.subset(rows), info=info)


@torch.no_grad()
def outputs(model: torch.nn.Module, data: TaskData, batch_size: int = 128) -> dict[str, np.ndarray]:
    """Head outputs on every row of ``data`` (``predict`` of the training code: probs, or RUL
    mean/std/80 % bounds, plus ``target``)."""
    batcher = batcher_for(model) if isinstance(model, PlantPulseModel) else plain_batcher()
    outs, _ = predict(model, data, batcher, batch_size)
    return outs


def plain_batcher() -> Batcher:
    """The batcher plain networks use (their text branch hashes words into PLAIN_VOCAB buckets)."""
    return Batcher(HashingTokenizer(PLAIN_VOCAB, PLAIN_TEXT_LEN), 256, "cpu")


# recipe options passed as `plantpulse train` flags when they differ from the training job's default
# (lr, batch size and patience have their own place in the command line)
FLAG_KEYS: tuple[str, ...] = tuple(k for k in TRAINING_KEYS if k not in ("lr", "batch_size", "patience"))


def _recipe_flags(training: dict[str, Any]) -> list[str]:
    """``--class-weight-power 1.0``, ``--image-flips``, ...: each of :data:`FLAG_KEYS` the recipe sets
    to other than the training job's default (a boolean as a bare flag)."""
    from plantpulse.pipelines.train.job import TrainRequest

    out: list[str] = []
    for key in FLAG_KEYS:
        value = training.get(key, TrainRequest.model_fields[key].default)
        if value != TrainRequest.model_fields[key].default:
            flag = "--" + key.replace("_", "-")
            out += [flag] if value is True else [flag, str(value)]
    return out


def train_commands(ctx: EvalContext, spec: MoeSpec) -> list[str]:
    """The ``plantpulse train`` command line(s) equivalent to :func:`train` for ``spec``."""
    import shlex

    b = ctx.budget
    args = ["--preset", b.preset, "--datasets", ",".join(spec.datasets)]
    args += ["--tasks", ",".join(spec.tasks)] if spec.tasks else []
    epochs = spec.stage_epochs(ctx)
    args += ["--pretrain-epochs", str(epochs["pretrain"]), "--finetune-epochs", str(epochs["finetune"]),
             "--distill-epochs", str(epochs["distill"]), *(["--steps", str(b.moe_steps)] if b.moe_steps else []),
             "--batch-size", str(spec.option(ctx, "batch_size")), "--lr", str(spec.option(ctx, "lr")),
             "--seed", str(spec.seed), "--device", b.device, "--name", spec.name, "--no-register", "--eval-rows", "64",
             "--quiet"]
    defaults = type(b)()
    args += ["--val-rows", str(b.val_rows)] if b.val_rows != defaults.val_rows else []
    patience = spec.option(ctx, "patience")
    args += ["--patience", str(patience)] if patience != defaults.patience else []
    args += _recipe_flags(spec.training)
    args += [] if spec.pcgrad else ["--no-pcgrad"]
    for key, value in {**b.moe_overrides, **spec.overrides}.items():
        args += ["--model-option", f"{key}={json.dumps(value)}"]
    for dataset, options in spec.bundle_options.items():
        args += [f"--dataset-option={dataset}.{k}={json.dumps(v, separators=(',', ':'))}" for k, v in options.items()]
    stages = [s for s, on in (("pretrain", spec.pretrain), ("finetune", True), ("distill", spec.distill)) if on]
    head = f"plantpulse --home runs/{spec.name} train"
    if len(stages) == 3:
        return [f"{head} {shlex.join(args)}"]
    return [f"{head} --stage {stage} {shlex.join(args)}" for stage in stages]
