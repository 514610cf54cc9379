"""``plantpulse train``: train the multimodal MoE model in three stages on the public datasets."""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import ConfigError
from plantpulse.model.moe.config import PRESET_NAMES
from plantpulse.model.moe.training.runtime import SELECT_BY
from plantpulse.pipelines.train.job import TrainRequest
from plantpulse.pipelines.train.tasks import BUNDLES

DEFAULTS = TrainRequest()  # the one place training defaults live; the options show them


def _bundle_options(items: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``("cwru.protocol=load", "cwru.test_loads=[1,2,3]")`` -> ``{"cwru": {...}}``."""
    import json

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        dataset, dot, option = key.partition(".")
        if not (sep and dot and dataset and option):
            raise click.BadParameter(f"expected DATASET.KEY=VALUE, got {item!r}.", param_hint="--dataset-option")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(dataset, {})[option] = value
    return out


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def _check_engine_options(engine: str, address: str | None, workers: int | None, use_gpu: bool,
                         device: str) -> None:
    if engine == "local":
        given = [name for name, value in (("--address", address), ("--workers", workers),
                                          ("--use-gpu", use_gpu)) if value]
        if given:
            raise click.BadParameter(f"{', '.join(given)} only apply with --engine ray.", param_hint="--engine")
    elif device != "auto":
        msg = f"with --engine ray, Ray assigns the device (got --device {device}); use --use-gpu for GPUs."
        raise click.BadParameter(msg, param_hint="--device")


@click.command()
@click.option("--stage", type=click.Choice(["pretrain", "finetune", "distill", "all"]), default=DEFAULTS.stage,
              show_default=True, help="Stage(s) to run; later stages start from the run folder.")
@click.option("--preset", type=click.Choice(PRESET_NAMES), default=DEFAULTS.preset, show_default=True,
              help="Model size.")
@click.option("--datasets", default=",".join(DEFAULTS.datasets), show_default=True,
              help="Comma-separated datasets to train on.")
@click.option("--tasks", default=None, help="Comma-separated task names (default: all tasks of the datasets).")
@click.option("--epochs", type=int, default=DEFAULTS.epochs["finetune"], show_default=True, help="Epochs for every stage.")
@click.option("--pretrain-epochs", type=int, help="Override --epochs for stage 1.")
@click.option("--finetune-epochs", type=int, help="Override --epochs for stage 2.")
@click.option("--distill-epochs", type=int, help="Override --epochs for stage 3.")
@click.option("--adapter-epochs", type=click.IntRange(min=0), default=DEFAULTS.adapter_epochs, show_default=True,
              help="After stage 2: each task's adapter and head trained alone on the frozen joint backbone for "
                   "up to this many epochs (best on its validation kept), published as the 'adapted' model "
                   "beside the joint teacher; 0: none.")
@click.option("--steps", type=int, default=None,
              help="Optimiser steps per epoch (default: one pass over the tasks' training data).")
@click.option("--batch-size", type=int, default=DEFAULTS.batch_size, show_default=True)
@click.option("--lr", type=float, default=DEFAULTS.lr, show_default=True)
@click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True)
@click.option("--device", default=DEFAULTS.device, show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Torch CPU threads. More than the free cores makes OpenMP threads spin and "
                   "slows training many times over; raise it only on an otherwise idle machine.")
@click.option("--name", default=DEFAULTS.name, show_default=True, help="Model name (files and registry).")
@click.option("--resume/--no-resume", default=DEFAULTS.resume, show_default=True,
              help="Continue an interrupted run from its run folder.")
@click.option("--pcgrad/--no-pcgrad", default=DEFAULTS.pcgrad, show_default=True, help="PCGrad in stage 2.")
@click.option("--uncertainty-weighting", is_flag=True, help="Learned task weights in stage 2.")
@click.option("--class-weight-power", type=click.FloatRange(0, 1), default=DEFAULTS.class_weight_power,
              show_default=True, help="Class weights (n / (K·n_c))^p in classification losses: 0 none, 1 balanced.")
@click.option("--image-flips", is_flag=True, help="Mirror each training image left-right and up-down at random "
              "(each with probability 1/2): for photos whose class does not depend on orientation.")
@click.option("--image-crop-min", type=click.FloatRange(0, 1, min_open=True), default=DEFAULTS.image_crop_min,
              show_default=True, help="Cut each training image to a random window whose height and width are "
              "each a uniform share in [this, 1] of the image's, resized back (1: no crops).")
@click.option("--word-dropout", type=click.FloatRange(0, 1, max_open=True), default=DEFAULTS.word_dropout,
              show_default=True, help="Hide each word of a training text with this probability (a text keeps "
              "at least its first word).")
@click.option("--average-epochs", type=click.FloatRange(min=0), default=DEFAULTS.average_epochs,
              show_default=True, help="Fine-tuning validates and keeps an exponential moving average of "
              "the weights over about this many epochs of steps instead of the raw weights (0: off).")
@click.option("--rul-mse-weight", type=click.FloatRange(min=0), default=DEFAULTS.rul_mse_weight,
              show_default=True, help="RUL heads train on CRPS plus this times the squared error of the "
              "predicted mean, in units of the RUL cap (0: CRPS alone).")
@click.option("--label-smoothing", type=click.FloatRange(0, 1, max_open=True), default=DEFAULTS.label_smoothing,
              show_default=True, help="Single-label classification losses spread this share of each target "
              "uniformly over the classes (0: none).")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=DEFAULTS.weight_decay, show_default=True,
              help="AdamW decay of the weight matrices; norms, biases and embeddings are never decayed.")
@click.option("--grad-checkpointing", is_flag=True, help="Trade compute for memory.")
@click.option("--balance", type=click.Choice(["aux", "bias", "none"]), help="MoE balancing (default: preset).")
@click.option("--register/--no-register", "register_versions", default=DEFAULTS.register_versions, show_default=True,
              help="Record the checkpoints as ModelVersion rows in the database.")
@click.option("--eval-rows", type=int, default=DEFAULTS.eval_rows, show_default=True, help="Rows per split scored.")
@click.option("--val-rows", type=int, default=DEFAULTS.val_rows, show_default=True,
              help="Validation rows per task scored each epoch to pick the best weights (more rows: a "
                   "steadier choice where positives are rare).")
@click.option("--patience", type=int, default=DEFAULTS.patience, show_default=True,
              help="Stop a stage after this many epochs without a better validation score.")
@click.option("--select-by", type=click.Choice(list(SELECT_BY)), default=DEFAULTS.select_by, show_default=True,
              help="What early stopping reads for classification tasks: headline (1 - macro-F1) or "
                   "balanced-nll (the true class's negative log-likelihood, averaged per class), which "
                   "does not jump when one validation row flips.")
@click.option("--model-option", "model_options", multiple=True, metavar="KEY=VALUE",
              help="Change one field of the preset (VALUE read as JSON when it parses), e.g. "
                   "patch_len=8 ffn=dense. Repeatable.")
@click.option("--dataset-option", "dataset_options", multiple=True, metavar="DATASET.KEY=VALUE",
              help="Option of a dataset's task builder (VALUE read as JSON when it parses), e.g. "
                   "cwru.protocol=load cwru.test_loads=[1,2,3]. Repeatable.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this process. ray: data-parallel (DDP) under Ray Train's TorchTrainer, "
                   "gradients averaged over --workers ranks.")
@click.option("--address", "ray_address", default=None,
              help="With --engine ray: the cluster (ray://head:10001 or auto); default: start a "
                   "private local Ray.")
@click.option("--workers", "ray_workers", type=click.IntRange(min=1), default=None,
              help="With --engine ray: DDP workers (default 2); each takes --batch-size samples a step.")
@click.option("--use-gpu", is_flag=True, help="With --engine ray: one GPU per worker (else CPU).")
@click.pass_obj
def train(settings: Settings, stage: str, preset: str, datasets: str, tasks: str | None, epochs: int,
          pretrain_epochs: int | None, finetune_epochs: int | None, distill_epochs: int | None,
          threads: int | None, grad_checkpointing: bool, balance: str | None, quiet: bool,
          dataset_options: tuple[str, ...], model_options: tuple[str, ...], engine: str,
          ray_address: str | None, ray_workers: int | None, use_gpu: bool, **options: Any) -> None:
    """Train the multimodal MoE model: pre-train, fine-tune with PCGrad, distil a student.

    Reads the public datasets from PLANTPULSE_DATASETS, writes resumable stage checkpoints into
    <home>/models/runs/<name>-<preset>/ and versioned teacher/student checkpoints into
    <home>/models/, and registers them in the database. With --engine ray the same job runs on
    --workers data-parallel ranks (one step = workers x batch-size samples); <home> and the
    datasets folder must then be reachable from every Ray node (docs/scale.md).
    """
    import torch

    from plantpulse.pipelines.train.job import TrainRequest, run

    _check_engine_options(engine, ray_address, ray_workers, use_gpu, options["device"])
    if threads and engine == "local":
        torch.set_num_threads(threads)
    overrides: dict[str, Any] = _bundle_options(tuple(f"model.{o}" for o in model_options)).get("model", {})
    if grad_checkpointing:
        overrides["grad_checkpointing"] = True
    if balance:
        overrides["balance"] = balance
    per_stage = {"pretrain": pretrain_epochs, "finetune": finetune_epochs, "distill": distill_epochs}
    try:
        request = TrainRequest(
            stage=stage, preset=preset, datasets=_split(datasets), tasks=_split(tasks),
            epochs={k: epochs if v is None else v for k, v in per_stage.items()},
            model_overrides=overrides, bundle_options=_bundle_options(dataset_options),
            show_progress=not quiet, **options,
        )
    except ValidationError as err:
        raise ConfigError(f"Invalid training options:\n{err}") from err
    unknown = sorted(set(request.datasets) - set(BUNDLES.names()))
    if unknown:
        raise click.BadParameter(f"unknown dataset(s) {unknown}. Available: {', '.join(BUNDLES.names())}.",
                                 param_hint="--datasets")
    if engine == "ray":
        from plantpulse.pipelines.runtime.ray_engine import train_job_on_ray

        result = train_job_on_ray(settings, request, workers=ray_workers or 2, address=ray_address,
                                  use_gpu=use_gpu, threads=threads)
    else:
        result = run(settings, request, echo=lambda line: click.echo(line, err=True))
    for kind, path in result.checkpoints.items():
        click.echo(f"{kind}: {path}")
