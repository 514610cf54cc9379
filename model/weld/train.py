"""Train a weld defect detector with Ultralytics YOLO, offline and on a CPU by default.

CPU time budget (measured on 2 shared cores, see docs/benchmarks.md): YOLO11n at 320 px trains at
about 0.1 s per image per epoch, so one epoch over the ~840 training images of the public weld
dataset takes ~1.5 min plus ~10 s of validation; the default 30 epochs take about 45-50 minutes
on idle cores (the shipped checkpoint took 73 minutes with other jobs sharing the two cores).
640 px costs about four times as much. Ultralytics forces ``workers=0`` when training on a CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from plantpulse.data.core.errors import CheckpointError, InputDataError
from plantpulse.model.weld.architecture import check_architecture
from plantpulse.model.weld.checkpoint import (
    WeldModel,
    WeldModelCard,
    load_user_weights,
    load_weld_model,
    make_weld_model,
)
from plantpulse.model.weld.runtime import ultralytics

ProgressFn = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """How to train. Defaults are the CPU settings used for PlantPulse's shipped checkpoint.

    ``model`` is an Ultralytics model YAML (a built-in name such as ``yolo11n.yaml`` or a path),
    checked against the allowed YOLO layers before it is built; ``weights`` optionally starts
    from a PlantPulse ``.safetensors`` checkpoint or, only with ``trust_pickle=True``, from a
    user-supplied Ultralytics ``.pt`` file (a pickle, which can run code: files you trust only).
    """

    model: str = "yolo11n.yaml"
    weights: Path | None = None
    trust_pickle: bool = False
    imgsz: int = 320
    epochs: int = 30
    batch: int = 16
    nbs: int = 64  # nominal batch: gradients are accumulated over nbs/batch batches per step
    workers: int = 0
    patience: int = 10
    seed: int = 0
    close_mosaic: int = 5
    lr0: float = 0.002
    optimizer: str = "AdamW"
    device: str = "cpu"
    threads: int | None = None
    deterministic: bool = True
    val: bool = True  # validate every epoch and keep the best; False: validate once, keep the last

    def check(self) -> None:
        if not self.model.endswith((".yaml", ".yml")):
            msg = (f"model must be a model YAML such as 'yolo11n.yaml' (got {self.model!r}); "
                   "pass pretrained weights with weights=<path> instead of a model name.")
            raise InputDataError(msg)
        if "://" in self.model:
            msg = (f"model must be a built-in model YAML name or a local file, not a URL "
                   f"(got {self.model!r}); download and check the file first.")
            raise InputDataError(msg)
        if self.weights is not None and Path(self.weights).suffix == ".pt" and not self.trust_pickle:
            msg = (f"{self.weights}: .pt weights are Python pickles, which can run code when loaded, "
                   "so they are refused by default. Start from a PlantPulse .safetensors checkpoint "
                   "instead, or, if you trust this file and where it came from, pass --trust-pickle "
                   "(trust_pickle=True).")
            raise CheckpointError(msg)
        limits = {"imgsz": (32, 2048), "epochs": (1, 10_000), "batch": (1, 1024)}
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise InputDataError(f"{name} must be in [{low}, {high}]; got {value}.")
        if self.imgsz % 32:
            raise InputDataError(f"imgsz must be a multiple of 32 (the network stride); got {self.imgsz}.")


@dataclass(frozen=True, slots=True)
class TrainResult:
    """A trained detector and how the training went."""

    model: WeldModel
    run_dir: Path
    wall_seconds: float
    epochs_run: int
    history: tuple[dict[str, float], ...]


def architecture_name(model_yaml: str) -> str:
    return Path(model_yaml).stem


def _start_yolo(config: TrainConfig) -> tuple[Any, str | None]:
    """A YOLO object built from the YAML, with starting weights loaded when given.

    Returns the object and the version of the PlantPulse checkpoint it starts from, if any.
    """
    package = ultralytics()
    from ultralytics.nn.tasks import yaml_model_load

    check_architecture(yaml_model_load(config.model), config.model)  # YOLO() would build anything
    yolo = package.YOLO(config.model, task="detect")
    if config.weights is None:
        return yolo, None
    weights, parent = Path(config.weights), None
    if weights.suffix == ".safetensors":
        start = load_weld_model(weights)
        donor, parent = start.network, start.version
    elif weights.suffix == ".pt":
        donor = load_user_weights(weights, allow_pickle=config.trust_pickle)
    else:
        raise CheckpointError(f"{weights}: starting weights must be .safetensors or .pt.")
    yolo.load(donor)  # copies every tensor whose name and shape match (heads may differ in nc)
    return yolo, parent


class _History:
    """Collects validation metrics per epoch from Ultralytics callbacks.

    Ultralytics fires ``on_fit_epoch_end`` once per epoch (after ``on_train_epoch_end``) and once
    more after training for the best checkpoint; that last call is kept apart as ``best``.
    """

    def __init__(self, progress: ProgressFn | None) -> None:
        self.rows: list[dict[str, float]] = []
        self.best: dict[str, float] = {}
        self._in_epoch = False
        self._progress = progress

    def on_train_epoch_end(self, trainer: Any) -> None:
        self._in_epoch = True

    def on_fit_epoch_end(self, trainer: Any) -> None:
        row: dict[str, float] = {"epoch": int(trainer.epoch) + 1, "epochs": int(trainer.epochs)}
        row.update({key: float(value) for key, value in (trainer.metrics or {}).items()})
        if not self._in_epoch:
            self.best = row
            return
        self._in_epoch = False
        self.rows.append(row)
        if self._progress is not None:
            self._progress(row)


def train_detector(
    data_yaml: Path,
    names: tuple[str, ...],
    config: TrainConfig,
    run_dir: Path,
    progress: ProgressFn | None = None,
    card_extra: dict[str, Any] | None = None,
) -> TrainResult:
    """Train on ``data_yaml`` (written by :mod:`~plantpulse.model.weld.materialize`).

    Ultralytics writes its logs and pickled checkpoints under ``run_dir``; the returned model is
    the best epoch on the validation part, as measured by Ultralytics' fitness (mAP).
    """
    config.check()
    if config.threads:
        torch.set_num_threads(config.threads)
    run_dir = Path(run_dir).resolve()
    yolo, parent = _start_yolo(config)
    history = _History(progress)
    yolo.add_callback("on_train_epoch_end", history.on_train_epoch_end)
    yolo.add_callback("on_fit_epoch_end", history.on_fit_epoch_end)
    started = time.perf_counter()
    yolo.train(data=str(data_yaml), imgsz=config.imgsz, epochs=config.epochs, batch=config.batch,
               workers=config.workers, patience=config.patience, seed=config.seed,
               deterministic=config.deterministic, close_mosaic=config.close_mosaic,
               lr0=config.lr0, optimizer=config.optimizer, device=config.device, plots=False,
               val=config.val, nbs=config.nbs,
               amp=False, project=str(run_dir.parent), name=run_dir.name, exist_ok=True,
               verbose=False)
    wall = time.perf_counter() - started
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    card = WeldModelCard(
        names=tuple(names), imgsz=config.imgsz, architecture=architecture_name(config.model),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), parent=parent,
        train={"config": settings, "wall_seconds": round(wall, 1),
               "epochs_run": len(history.rows), "best_val": history.best, **(card_extra or {})},
    )
    model = make_weld_model(yolo.model, card)
    return TrainResult(model=model, run_dir=run_dir, wall_seconds=wall,
                       epochs_run=len(history.rows), history=tuple(history.rows))
