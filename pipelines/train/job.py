"""The training job behind ``plantpulse train``: data -> stage 1 -> stage 2 -> stage 3.

Every stage writes its checkpoint and resumable state into a run folder
(``<model_dir>/runs/<name>-<preset>/``) after each epoch, so an interrupted run continues where
it stopped. Finished models are written as versioned checkpoints
(``<model_dir>/<name>-teacher-v<N>.safetensors``, ``…-student-v<N>…``) with metrics, config,
normalisers, the split-conformal calibration of each RUL interval on the validation units
(``plantpulse.model.moe.calibration``) and the data fingerprint, and registered as ModelVersion rows.

The same job runs on every rank of a data-parallel group (``plantpulse train --engine ray``, see
``plantpulse.pipelines.runtime.ray_engine.train_job_on_ray``): the stages average gradients over the
ranks, and only rank 0 prints, writes the run folder and the versions, and registers them.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import CheckpointError, ConfigError
from plantpulse.data.core.hashing import sha256_file
from plantpulse.data.store.db import open_database
from plantpulse.model.moe.channels import ChannelCollisionError, ChannelIndex, vocabulary
from plantpulse.model.moe.checkpoint import (
    load_checkpoint,
    load_training_state,
    next_version_path,
    save_checkpoint,
    save_training_state,
)
from plantpulse.model.moe.config import ModelConfig, preset
from plantpulse.model.moe.layers.embeddings import HashingTokenizer
from plantpulse.model.moe.network import PlantPulseModel
from plantpulse.model.moe.training import (
    Batcher,
    StageOptions,
    StageState,
    TaskSplits,
    combined_fingerprint,
    is_main_process,
    pick_device,
    run_distill,
    run_finetune,
    run_pretrain,
    seed_everything,
    student_config,
    warm_start_student,
)
from plantpulse.model.moe.training.calibrate import calibrate_rul
from plantpulse.model.moe.training.finetune import validation_subset
from plantpulse.model.moe.training.runtime import SelectBy
from plantpulse.model.moe.training.validation import evaluate
from plantpulse.pipelines.train.tasks import BUNDLES, TaskBundle, build_bundle

STAGES: tuple[str, ...] = ("pretrain", "finetune", "distill")
_HEADLINE = {"rmse", "macro_f1", "auroc", "sensor", "image", "text", "infonce"}
Echo = Callable[[str], None]


class TrainRequest(BaseModel):
    """What to train; every CLI option maps to one field (unknown keys are rejected)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: Literal["pretrain", "finetune", "distill", "all"] = "all"
    preset: str = "default"
    datasets: tuple[str, ...] = tuple(BUNDLES.names())
    tasks: tuple[str, ...] = ()
    epochs: dict[str, int] = Field(default_factory=lambda: {s: 1 for s in STAGES})
    steps: int | None = Field(None, ge=1, description="optimiser steps per epoch (None: one pass "
                              "over the tasks' training data)")
    batch_size: int = Field(32, ge=2)
    lr: float = Field(1e-3, gt=0)
    seed: int = 0
    device: str = "auto"
    name: str = Field("plantpulse", pattern=r"^[A-Za-z0-9_.-]+$")
    resume: bool = True
    pcgrad: bool = True
    uncertainty_weighting: bool = False
    class_weight_power: float = Field(0.5, ge=0, le=1, description="class weights (n / (K·n_c))^p in "
                                      "the classification losses; 0 = none, 1 = fully balanced")
    image_flips: bool = Field(False, description="mirror training images at random (left-right, up-down)")
    image_crop_min: float = Field(1.0, gt=0, le=1, description="cut each training image to a random window of "
                                  "a share in [this, 1] of its height and width, resized back (1: none)")
    word_dropout: float = Field(0.0, ge=0, lt=1, description="hide each word of a training text with this "
                                "probability")
    average_epochs: float = Field(0.0, ge=0, description="fine-tuning validates and keeps a moving "
                                  "average of the weights over about this many epochs (0: the raw weights)")
    rul_mse_weight: float = Field(0.0, ge=0, description="RUL heads train on CRPS plus this times the squared "
                                  "error of the mean, in units of the cap (0: CRPS alone)")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="single-label classification losses spread "
                                   "this share of each target uniformly over the classes (0: none)")
    weight_decay: float = Field(0.01, ge=0, description="AdamW decay of the weight matrices (norms, biases "
                                "and embeddings are never decayed)")
    select_by: SelectBy = Field("headline", description="early stopping on classification tasks reads "
                                "1 - macro-F1 ('headline') or the class-balanced negative log-likelihood "
                                "('balanced-nll') of the validation rows")
    model_overrides: dict[str, Any] = Field(default_factory=dict)
    bundle_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="dataset -> keyword options of its task builder, e.g. "
        "{'cwru': {'protocol': 'load', 'test_loads': [1, 2, 3]}}")
    register_versions: bool = True
    eval_rows: int = Field(2000, ge=1, description="rows per split scored for the metrics")
    val_rows: int = Field(1024, ge=1, description="validation rows per task scored each epoch to "
                          "select the best weights")
    patience: int = Field(3, ge=1, description="early stopping: epochs without a better validation score")
    adapter_epochs: int = Field(0, ge=0, description="after fine-tuning: per-task adapters + heads on the "
                                "frozen joint backbone, up to this many epochs per task (0: none)")
    show_progress: bool = True

    def stages(self) -> tuple[str, ...]:
        return STAGES if self.stage == "all" else (self.stage,)

    def options(self, stage: str) -> StageOptions:
        return StageOptions(epochs=self.epochs.get(stage, 1), steps_per_epoch=self.steps,
                            batch_size=self.batch_size, lr=self.lr, seed=self.seed, device=self.device,
                            show_progress=self.show_progress, pcgrad=self.pcgrad,
                            val_batches=max(1, -(-self.val_rows // self.batch_size)), patience=self.patience,
                            uncertainty_weighting=self.uncertainty_weighting,
                            class_weight_power=self.class_weight_power, image_flips=self.image_flips,
                            image_crop_min=self.image_crop_min,
                            word_dropout=self.word_dropout, average_epochs=self.average_epochs,
                            rul_mse_weight=self.rul_mse_weight, select_by=self.select_by,
                            label_smoothing=self.label_smoothing, weight_decay=self.weight_decay)


@dataclass
class TrainResult:
    run_dir: Path
    checkpoints: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    registered: list[str] = field(default_factory=list)


@dataclass
class _Context:
    settings: Settings
    request: TrainRequest
    config: ModelConfig
    bundles: list[TaskBundle]
    tasks: list[TaskSplits]
    batcher: Batcher
    run_dir: Path
    echo: Echo
    fingerprint: str = ""
    started: float = field(default_factory=time.perf_counter)

    @property
    def extra(self) -> dict[str, Any]:
        normalizers: dict[str, Any] = {}
        windows: dict[str, int] = {}
        channel_lists: dict[str, list[str]] = {}
        feature_lists: dict[str, list[str]] = {}
        text_types = sorted({s.train.task.asset_type for s in self.tasks
                             if s.train.texts is not None and s.train.task.asset_type})
        for bundle in self.bundles:
            normalizers.update(bundle.normalizers)
        for splits in self.tasks:
            if splits.train.sensor is not None:
                windows[splits.train.task.asset_type] = int(splits.train.sensor.shape[1])
                channel_lists[splits.train.task.asset_type] = list(splits.train.channels)
            if splits.train.features is not None:
                feature_lists[splits.train.task.asset_type] = list(splits.train.feature_names)
        return {"normalizers": normalizers, "window_lengths": windows, "channel_lists": channel_lists,
                **({"feature_lists": feature_lists} if feature_lists else {}),
                "text_asset_types": text_types,
                "preset": self.request.preset,
                "datasets": list(self.request.datasets), "seed": self.request.seed,
                "bundle_options": self.request.bundle_options}


def build_data(settings: Settings, request: TrainRequest, config: ModelConfig, echo: Echo
               ) -> tuple[list[TaskBundle], list[TaskSplits]]:
    """Build the requested datasets' tasks (splits made inside each builder, by unit)."""
    root = settings.require_datasets_dir()
    bundles = []
    for name in request.datasets:
        start = time.perf_counter()
        options = {"seed": request.seed, "image_size": config.image_size, **request.bundle_options.get(name, {})}
        bundle = build_bundle(name, root, **options)
        echo(f"data {name}: {', '.join(f'{k} {len(v.train)}/{len(v.val)}' for k, v in bundle.splits.items())}"
             f" train/val samples ({time.perf_counter() - start:.1f} s)")
        bundles.append(bundle)
    tasks = selected_tasks(bundles, request.tasks)
    if not tasks:
        raise ConfigError(f"No task selected: datasets {list(request.datasets)}, tasks {list(request.tasks)}.")
    known = {name for b in bundles for name in b.splits}
    unknown = sorted(set(request.tasks) - known)
    if unknown:
        msg = f"Unknown task(s) {unknown} for datasets {list(request.datasets)}. Available: {', '.join(sorted(known))}."
        raise ConfigError(msg)
    return bundles, tasks


def selected_tasks(bundles: Sequence[TaskBundle], names: Sequence[str]) -> list[TaskSplits]:
    """The bundles' tasks named in ``names`` (all of them when ``names`` is empty), in bundle order."""
    return [s for b in bundles for name, s in b.splits.items() if not names or name in names]


def training_fingerprint(bundles: Sequence[TaskBundle], names: Sequence[str]) -> str:
    """The data fingerprint a run on ``bundles`` with tasks ``names`` stores in its checkpoints:
    sha256 over the selected tasks' training splits and the bundles' pre-training data."""
    tasks = selected_tasks(bundles, names)
    return combined_fingerprint([s.train for s in tasks] + [d for b in bundles for d in b.pretrain])


def model_config(request: TrainRequest, specs: tuple = (), channel_vocab: tuple[str, ...] = (),
                 feature_tokens: bool = False) -> ModelConfig:
    data_driven: dict[str, Any] = {"tasks": specs, "channel_vocab": channel_vocab}
    if feature_tokens:  # only then: configs of runs without features stay as they were
        data_driven["feature_tokens"] = True
    return preset(request.preset, **{**request.model_overrides, **data_driven})


def _named_inputs(tasks: list[TaskSplits], bundles: list[TaskBundle]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(data name, names) of every sensor channel list and structured feature list trained on."""
    for data in [s.train for s in tasks] + [d for b in bundles for d in b.pretrain]:
        if data.sensor is not None:
            yield data.name, tuple(data.channels)
        if data.features is not None:
            yield f"{data.name} features", tuple(data.feature_names)


def channel_vocabulary(tasks: list[TaskSplits], bundles: list[TaskBundle]) -> tuple[str, ...]:
    """Every sensor channel and structured feature the run trains on, one index each (asset
    types' lists, in order)."""
    return vocabulary(names for _, names in _named_inputs(tasks, bundles))


def uses_features(tasks: list[TaskSplits]) -> bool:
    return any(s.train.features is not None for s in tasks)


def check_channels(config: ModelConfig, tasks: list[TaskSplits], bundles: list[TaskBundle]) -> None:
    """Fail before training when two channels (or features) of one input would share an embedding."""
    index = ChannelIndex(config.channel_vocab, config.channel_buckets)
    for name, names in _named_inputs(tasks, bundles):
        try:
            index.ids(names)
        except ChannelCollisionError as err:
            raise ChannelCollisionError(f"{name}: {err}") from err


def _state_path(ctx: _Context, stage: str) -> Path:
    return ctx.run_dir / f"{stage}.state.safetensors"


def _load_state(ctx: _Context, stage: str) -> StageState | None:
    path = _state_path(ctx, stage)
    if not ctx.request.resume or not path.is_file():
        return None
    return StageState.from_dict(load_training_state(path))


def _load_model(path: Path, expected: ModelConfig) -> PlantPulseModel:
    try:
        model, _ = load_checkpoint(path, expected_config=expected)
    except CheckpointError as err:
        msg = f"{err} (the run folder {path.parent} was made with other settings; use --no-resume)"
        raise CheckpointError(msg) from err
    return model


def _saver(ctx: _Context, stage: str, models: dict[str, PlantPulseModel]
           ) -> Callable[[StageState, bool], None] | None:
    if not is_main_process():  # one writer per run folder
        return None

    def on_epoch(state: StageState, improved: bool) -> None:
        for suffix, model in models.items():
            save_checkpoint(model, ctx.run_dir / f"{stage}{suffix}.safetensors", kind=stage,
                            name=ctx.request.name, extra=ctx.extra, data_fingerprint=ctx.fingerprint)
        save_training_state(_state_path(ctx, stage), state.to_dict())
        last = state.history[-1]
        shown = ", ".join(f"{k} {v:.3g}" for k, v in last.items() if k.split("/")[-1] in _HEADLINE)
        ctx.echo(f"{stage} epoch {state.epoch}: score {last['score']:.4f}{' (best)' if improved else ''}"
                 f"{'; ' + shown if shown else ''}")
    return on_epoch


def stage_pretrain(ctx: _Context) -> PlantPulseModel:
    state = _load_state(ctx, "pretrain")
    path = ctx.run_dir / "pretrain.safetensors"
    model = _load_model(path, ctx.config) if state and path.is_file() else PlantPulseModel(ctx.config)
    model.to(ctx.batcher.device)
    data = [d for b in ctx.bundles for d in b.pretrain]
    if not data:  # e.g. a table given as structured features: nothing to reconstruct
        ctx.echo(f"pretrain: skipped, no pre-training data in {', '.join(ctx.request.datasets)}")
        return model
    run_pretrain(model, data, ctx.request.options("pretrain"), ctx.batcher, state,
                 _saver(ctx, "pretrain", {"": model}))
    return model


def stage_finetune(ctx: _Context, model: PlantPulseModel | None) -> PlantPulseModel:
    state = _load_state(ctx, "finetune")
    resume_path = ctx.run_dir / "finetune.safetensors"
    if state and resume_path.is_file():
        model = _load_model(resume_path, ctx.config)
    elif model is None:
        pre = ctx.run_dir / "pretrain.safetensors"
        model = _load_model(pre, ctx.config) if pre.is_file() else PlantPulseModel(ctx.config)
        if not pre.is_file():
            ctx.echo("finetune: no pre-trained checkpoint in the run folder; starting from scratch")
    model.to(ctx.batcher.device)
    run_finetune(model, ctx.tasks, ctx.request.options("finetune"), ctx.batcher, state,
                 _saver(ctx, "finetune", {"": model}))
    if is_main_process():  # the run folder's teacher is the best-on-validation one, not the last epoch's
        save_checkpoint(model, ctx.run_dir / "finetune.safetensors", kind="finetune", name=ctx.request.name,
                        extra=ctx.extra, data_fingerprint=ctx.fingerprint)
    return model


def stage_adapt(ctx: _Context, teacher: PlantPulseModel) -> PlantPulseModel:
    """Per-task adapters on the frozen joint backbone (the design's "a new asset type trains only
    its adapter"): a copy of the teacher with its backbone (routing biases included) frozen; each
    task's adapter and head then trains on that task's data alone, up to ``adapter_epochs`` epochs,
    keeping the epoch best on that task's validation score. Not resumable: an interrupted
    adaptation starts again from the fine-tuned teacher."""
    model = copy.deepcopy(teacher)
    model.freeze_backbone(True)
    opts = ctx.request.options("finetune").model_copy(update={"epochs": ctx.request.adapter_epochs})
    for splits in ctx.tasks:
        name = splits.train.task.name

        def on_epoch(state: StageState, improved: bool, name: str = name) -> None:
            ctx.echo(f"adapt {name} epoch {state.epoch}: score {state.history[-1]['score']:.4f}"
                     f"{' (best)' if improved else ''}")

        run_finetune(model, [splits], opts, ctx.batcher, StageState(stage="adapt"), on_epoch)
    model.freeze_backbone(False)
    return model


def stage_distill(ctx: _Context, teacher: PlantPulseModel | None) -> tuple[PlantPulseModel, PlantPulseModel, dict]:
    state = _load_state(ctx, "distill")
    student_cfg = student_config(ctx.config)
    if state and (ctx.run_dir / "distill-student.safetensors").is_file():
        teacher = _load_model(ctx.run_dir / "distill-teacher.safetensors", ctx.config)
        student = _load_model(ctx.run_dir / "distill-student.safetensors", student_cfg)
    else:
        if teacher is None:
            path = ctx.run_dir / "finetune.safetensors"
            if not path.is_file():
                raise CheckpointError(f"No fine-tuned teacher in {ctx.run_dir}; run `plantpulse train "
                                      f"--stage finetune` (same options) first.")
            teacher = _load_model(path, ctx.config)
        student = PlantPulseModel(student_cfg)
        copied = warm_start_student(teacher, student)
        ctx.echo(f"distill: the student starts from the teacher ({copied} tensors copied)")
    teacher.to(ctx.batcher.device)
    student.to(ctx.batcher.device)
    state = run_distill(teacher, student, ctx.tasks, ctx.request.options("distill"), ctx.batcher, state,
                        _saver(ctx, "distill", {"-teacher": teacher, "-student": student}))
    return teacher, student, state.extra.get("report", {})


def score(ctx: _Context, model: PlantPulseModel) -> dict[str, Any]:
    """Validation and test metrics per task on up to ``eval_rows`` rows of each split."""
    out: dict[str, Any] = {}
    for splits in ctx.tasks:
        name = splits.train.task.name
        for part, data in (("val", splits.val), ("test", splits.test)):
            if data is None or len(data) == 0:
                continue
            sub = validation_subset(data, ctx.request.eval_rows, ctx.request.seed)
            out.setdefault(part, {})[name] = evaluate(model, sub, ctx.batcher, ctx.request.batch_size)
    return out


def publish(ctx: _Context, model: PlantPulseModel, kind: str, metrics: dict[str, Any],
            result: TrainResult) -> None:
    """Write a versioned checkpoint and register it (called on rank 0 only under DDP)."""
    path, version = next_version_path(ctx.settings.model_dir, f"{ctx.request.name}-{kind}")
    metrics = {**metrics, "wall_seconds": round(time.perf_counter() - ctx.started, 1)}
    intervals = calibrate_rul(model, ctx.tasks, ctx.batcher, ctx.request.batch_size)
    for task, found in intervals.items():
        ctx.echo(f"{kind} {task}: 80 % interval calibrated on {found['n']} validation units "
                 f"(mean ± {found['scale']:.2f} std; uncalibrated ± 1.28 std)")
    save_checkpoint(model, path, kind=kind, name=f"{ctx.request.name}-{kind}", version=version,
                    metrics=metrics, data_fingerprint=ctx.fingerprint,
                    extra={**ctx.extra, "rul_intervals": intervals})
    result.checkpoints[kind] = path
    result.metrics[kind] = metrics
    ctx.echo(f"saved {kind} v{version}: {path}")
    if ctx.request.register_versions:
        result.registered.append(register(ctx, path, kind, model, metrics))


def register(ctx: _Context, path: Path, kind: str, model: PlantPulseModel, metrics: dict[str, Any]) -> str:
    from plantpulse.data.store.repository import register_model_version

    db = open_database(ctx.settings)
    with db.session() as session:
        row = register_model_version(
            session, name=f"{ctx.request.name}-{kind}", kind=kind, task="multitask", path=str(path.resolve()),
            metrics=_jsonable(metrics), config=model.cfg.to_dict(), data_fingerprint=ctx.fingerprint,
            sha256=sha256_file(path))
        label = f"{row.name} v{row.version}"
    ctx.echo(f"registered {label} (candidate)")
    return label


def _silent(line: str) -> None:
    """The echo of ranks other than 0."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    return value


def run(settings: Settings, request: TrainRequest, echo: Echo = print) -> TrainResult:
    """Run the requested stages; see the module docstring."""
    main = is_main_process()
    if not main:
        echo = _silent
    if request.register_versions and main:
        open_database(settings).require_current()  # fail before training, not after
    seed_everything(request.seed)
    device = pick_device(request.device)
    probe = model_config(request)
    bundles, tasks = build_data(settings, request, probe, echo)
    config = model_config(request, tuple(s.train.task for s in tasks), channel_vocabulary(tasks, bundles),
                          uses_features(tasks))
    check_channels(config, tasks, bundles)
    run_dir = settings.model_dir / "runs" / f"{request.name}-{request.preset}"
    run_dir.mkdir(parents=True, exist_ok=True)
    batcher = Batcher(HashingTokenizer.for_config(config),
                      ChannelIndex(config.channel_vocab, config.channel_buckets), device)
    ctx = _Context(settings, request, config, bundles, tasks, batcher, run_dir, echo)
    ctx.fingerprint = training_fingerprint(bundles, request.tasks)
    result = TrainResult(run_dir)
    model = None
    echo(f"model {request.preset}: {PlantPulseModel(config).parameter_counts()} on {device}")
    if "pretrain" in request.stages():
        model = stage_pretrain(ctx)
    if "finetune" in request.stages():
        model = stage_finetune(ctx, model)
        if main:
            publish(ctx, model, "teacher", {"stage": "finetune", **score(ctx, model)}, result)
        if request.adapter_epochs:  # reported beside the joint teacher, never in its place
            adapted = stage_adapt(ctx, model)
            if main:
                publish(ctx, adapted, "adapted", {"stage": "adapt", **score(ctx, adapted)}, result)
    if "distill" in request.stages():
        # the published teacher stays the best-on-validation fine-tuned one: distillation keeps
        # training its own copy (without PCGrad or selection) only to guide the student
        guide = copy.deepcopy(model) if model is not None and "finetune" in request.stages() else None
        teacher, student, report = stage_distill(ctx, guide)
        if main:
            if "finetune" not in request.stages():
                best = _load_model(ctx.run_dir / "finetune.safetensors", ctx.config)
                publish(ctx, best, "teacher", {"stage": "finetune", **score(ctx, best)}, result)
            publish(ctx, student, "student", {"stage": "distill", "distill": report, **score(ctx, student)},
                    result)
    return result
