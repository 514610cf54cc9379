"""Two of the learners of a fit, on the same rows: a baseline on engineered window features
(histogram gradient boosting; an isolation forest for anomaly, which has no labels to boost on)
and the MoE network (the tiny preset trained from scratch with one new task head). The third, for
RUL, is the survival model of :mod:`plantpulse.pipelines.fit.survival`.

Each takes :class:`FitData` (standardised windows, NaN as 0) and returns per-row outputs in the
shape :mod:`plantpulse.pipelines.fit.metrics` reads: ``mean``/``lower``/``upper`` for RUL,
``probs`` for classes, ``score`` (higher = more anomalous) for anomaly; the test rows under those
names and the validation rows with a ``val_`` prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor, IsolationForest

from plantpulse.data.core.errors import CheckpointError, ConfigError
from plantpulse.data.core.resources import shipped_dir
from plantpulse.model.baseline.window_gbm import ensembles, isolation_trees, save_gbm, snapshot_features
from plantpulse.model.moe.channels import vocabulary
from plantpulse.model.moe.checkpoint import (
    load_checkpoint,
    load_training_state,
    save_checkpoint,
    save_training_state,
)
from plantpulse.model.moe.config import TaskSpec, preset
from plantpulse.model.moe.network import PlantPulseModel
from plantpulse.model.moe.training import (
    Batcher,
    StageOptions,
    StageState,
    TaskData,
    TaskSplits,
    run_finetune,
)
from plantpulse.model.moe.training.runtime import pick_device, seed_everything
from plantpulse.model.moe.training.validation import predict
from plantpulse.pipelines.evaluate.features import rul_features
from plantpulse.pipelines.evaluate.gbm import fit_classifier, fit_regressor
from plantpulse.pipelines.fit.data import LogTable
from plantpulse.pipelines.fit.spec import FitSpec

TASK_PREFIX = {"rul": "rul", "class": "fault", "anomaly": "anomaly"}
SHIPPED_BACKBONE = "plantpulse-backbone.safetensors"  # the multi-task teacher (six datasets)
HEAD_KIND = {"rul": "rul", "class": "classification", "anomaly": "anomaly"}


@dataclass(frozen=True)
class FitData:
    """Model-ready rows. ``x`` (N, T, C) float32 standardised, NaN replaced by 0; ``targets`` (N,)
    RUL in the spec's unit (capped), class index, or is-normal; ``train``/``val``/``test`` row indices
    (train and val hold only rows the learners may fit on); the baseline's features are
    :func:`plantpulse.pipelines.evaluate.features.rul_features` on grid windows, spectral ones
    (:func:`plantpulse.model.baseline.window_gbm.snapshot_features`) on snapshots."""

    x: np.ndarray
    groups: np.ndarray
    targets: np.ndarray
    channels: tuple[str, ...]
    classes: tuple[str, ...]
    rul_cap: float
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    sample_rate_hz: float | None = None  # snapshots: the sensors' rate (the network's spectral tokens)
    texts: np.ndarray | None = None  # (N,) the maintenance log per window (None: no event); None: no log at all
    log: LogTable | None = None  # the structured log features of every row (None: not used)


@dataclass
class Trained:
    """One learner's held-out outputs, its saved file and its wall time."""

    kind: str
    outputs: dict[str, np.ndarray]
    path: Path
    wall_s: float = 0.0
    origin: str = "gradient boosting on window features"


def window_inputs(spec: FitSpec, data: FitData, extra: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """The baselines' (N, F) features of every row, and the metadata their predictor kinds read
    (asset type, channels, window, standardisation, RUL cap, feature kind)."""
    kind = "snapshot" if spec.snapshots else "window"
    feats = rul_features(data.x) if kind == "window" else snapshot_features(data.x).astype(np.float32)
    stats = extra["normalizers"][spec.asset_type]
    meta = {"asset_type": spec.asset_type, "target": spec.target, "channels": list(data.channels),
            "window": spec.window, "mean": stats["mean"], "std": stats["std"], "rul_cap": data.rul_cap,
            "features": kind}
    if data.log is not None:  # the log features follow the window's
        feats = np.concatenate([feats, data.log.values], axis=1)
        meta["log_features"] = data.log.spec.to_dict()
    return feats, meta


def fit_baseline(spec: FitSpec, data: FitData, path: Path, extra: dict[str, Any]) -> Trained:
    """Gradient boosting on (last, mean, std, slope) per channel, saved as the ``gbm`` predictor
    kind; for anomaly an isolation forest on the normal windows (the same kind). Outputs hold the
    test rows and, prefixed ``val_``, the validation rows (the winner is chosen on those)."""
    feats, meta = window_inputs(spec, data, extra)
    x_tr, x_val, x_te = feats[data.train], feats[data.val], feats[data.test]
    y_tr, y_val = data.targets[data.train], data.targets[data.val]
    if spec.target == "rul":
        model = fit_regressor(x_tr, y_tr.astype(float), x_val, y_val.astype(float), spec.gbm_rounds, spec.seed)
        bounds = [HistGradientBoostingRegressor(loss="quantile", quantile=q, max_iter=model.rounds,
                                                random_state=spec.seed).fit(x_tr, y_tr) for q in (0.1, 0.9)]
        outs: dict[str, np.ndarray] = {}
        for part, x in (("", x_te), ("val_", x_val)):
            mean = np.clip(model.predict(x), 0, data.rul_cap)
            low, high = (np.clip(b.predict(x), 0, data.rul_cap) for b in bounds)
            outs |= {part + "mean": mean, part + "lower": np.minimum(low, mean), part + "upper": np.maximum(high, mean)}
        heads = {"mean": ensembles(model.model, model.rounds)[0], "q10": ensembles(bounds[0])[0],
                 "q90": ensembles(bounds[1])[0]}
        save_gbm(path, heads, {**meta, "classes": []})
        return Trained("gbm", outs, path)
    if spec.target == "class":
        fitted = fit_classifier(x_tr, y_tr.astype(int), x_val, y_val.astype(int), spec.gbm_rounds, spec.seed)
        present = fitted.model.classes_.astype(int)
        probs, val_probs = np.zeros((len(x_te), len(data.classes))), np.zeros((len(x_val), len(data.classes)))
        probs[:, present], val_probs[:, present] = fitted.predict_proba(x_te), fitted.predict_proba(x_val)
        trees = ensembles(fitted.model, fitted.rounds)
        save_gbm(path, {f"class{k}": t for k, t in enumerate(trees)},
                 {**meta, "classes": [data.classes[k] for k in present]},
                 fitted.bins.edges if fitted.bins is not None else None)
        return Trained("gbm", {"probs": probs, "val_probs": val_probs}, path)
    forest = IsolationForest(n_estimators=200, random_state=spec.seed).fit(x_tr[y_tr.astype(bool)])
    outputs = {"score": -forest.score_samples(x_te), "val_score": -forest.score_samples(x_val)}
    trees, normaliser = isolation_trees(forest)
    save_gbm(path, {"forest": trees}, {**meta, "classes": [], "normaliser": normaliser})
    return Trained("gbm", outputs, path, origin="isolation forest on normal windows' features")


def task_spec(spec: FitSpec, data: FitData) -> TaskSpec:
    kind = HEAD_KIND[spec.target]
    return TaskSpec(name=f"{TASK_PREFIX[spec.target]}:{spec.asset_type}", kind=kind,
                    classes=data.classes if kind == "classification" else (),
                    rul_cap=data.rul_cap if kind == "rul" else 125.0)


def _task_data(name: str, task: TaskSpec, data: FitData, rows: np.ndarray) -> TaskData:
    targets = data.targets[rows]
    targets = targets.astype(np.float32) if task.kind == "rul" else targets.astype(
        bool if task.kind == "anomaly" else np.int64)
    texts = None if data.texts is None else data.texts[rows]
    return TaskData(name=name, task=task, groups=data.groups[rows], sensor=data.x[rows],
                    channels=data.channels, targets=targets, sample_rate_hz=data.sample_rate_hz,
                    features=None if data.log is None else data.log.values[rows],
                    feature_names=() if data.log is None else data.log.spec.names,
                    texts=None if texts is None else tuple(t or "" for t in texts),
                    text_present=None if texts is None else np.array([bool(t) for t in texts]))


def backbone_path(name: str) -> Path:
    """``shipped`` -> the committed multi-task teacher; anything else is a checkpoint path."""
    path = shipped_dir() / SHIPPED_BACKBONE if name == "shipped" else Path(name)
    if not path.is_file():
        raise ConfigError(f"backbone {name!r}: no checkpoint at {path}. Give 'shipped' or a .safetensors file "
                          f"written by plantpulse train / fit.")
    return path


def initial_model(spec: FitSpec, task: TaskSpec, channels: tuple[str, ...], feature_names: tuple[str, ...] = ()
                  ) -> tuple[PlantPulseModel, str]:
    """A new network of ``spec.preset`` (with feature tokens for ``feature_names``, when given), or a
    loaded backbone with a new adapter + head for ``task`` (backbone frozen unless ``spec.unfreeze``);
    and a line saying which."""
    if spec.backbone is None:
        lists = [channels, feature_names] if feature_names else [channels]
        cfg = preset(spec.preset, tasks=(task,), channel_vocab=vocabulary(lists),
                     **({"feature_tokens": True, "feature_path": spec.feature_path} if feature_names else {}))
        return PlantPulseModel(cfg), f"preset {spec.preset!r} trained from scratch"
    path = backbone_path(spec.backbone)
    model, _ = load_checkpoint(path)
    if any(t.name == task.name for t in model.cfg.tasks):
        raise ConfigError(f"backbone {path.name} already has a head {task.name!r}; fit would overwrite it. "
                          f"Use another asset_type name or another backbone.")
    if spec.window < model.cfg.patch_len:
        raise ConfigError(f"window={spec.window} is shorter than the backbone's patch length "
                          f"{model.cfg.patch_len}; set window >= {model.cfg.patch_len}.")
    model.add_task(task)
    model.freeze_backbone(not spec.unfreeze)
    state = "fine-tuned" if spec.unfreeze else "frozen"
    return model, f"backbone {path.name} ({state}) with a new adapter + head {task.name}"


def fit_moe(spec: FitSpec, data: FitData, path: Path, extra: dict[str, Any],
            echo: Callable[[str], None], show_progress: bool, epoch_state: Path | None = None,
            epoch_done: Callable[[int, int], None] | None = None) -> Trained:
    """Train the network with one head for this asset type (see :func:`initial_model`).

    With ``epoch_state`` (a file path) the weights, optimiser and early-stopping state are written
    there after every epoch (safetensors + JSON), and an existing file is resumed from: training
    continues after its last completed epoch. ``epoch_done(done, epochs)`` hears each epoch's end."""
    seed_everything(spec.seed)
    task = task_spec(spec, data)
    names = data.log.spec.names if data.log is not None else ()
    model, origin = initial_model(spec, task, data.channels, names)
    echo(f"moe: {origin}")
    if names and not model.cfg.feature_tokens:  # a backbone built without feature tokens
        echo(f"moe: the backbone has no feature tokens; its head reads windows{' and text' if data.texts is not None else ''}"
             f" without the {len(names)} log features")
        data = replace(data, log=None)
        extra = {k: v for k, v in extra.items() if k not in ("log_features", "feature_lists")}
    device = pick_device("auto")
    state = _resume_moe(model, epoch_state, spec, echo)
    model.to(device)
    batcher = Batcher.for_model(model, device)
    train_rows = data.train
    if spec.target == "anomaly":  # normal windows only: later windows are unlabelled, not anomalies
        train_rows = train_rows[data.targets[train_rows].astype(bool)]
    splits = TaskSplits(_task_data(task.name, task, data, train_rows), _task_data(task.name, task, data, data.val))
    opts = StageOptions(epochs=spec.epochs, steps_per_epoch=spec.steps, batch_size=spec.batch_size,
                        seed=spec.seed, device=str(device), show_progress=show_progress, pcgrad=False,
                        val_batches=max(1, -(-len(data.val) // spec.batch_size)))

    def on_epoch(done: StageState, improved: bool) -> None:
        if epoch_state is not None:
            save_training_state(epoch_state, {**done.to_dict(), "model": model.state_dict()})
        echo(f"moe epoch {done.epoch}/{spec.epochs}: validation score {done.history[-1]['score']:.4f}"
             f"{' (best)' if improved else ''}")
        if epoch_done is not None:
            epoch_done(done.epoch, spec.epochs)

    state = run_finetune(model, [splits], opts, batcher, state, on_epoch)
    echo(f"moe: {state.epoch} epoch(s), best validation score {state.best_score:.4f}")
    outs: dict[str, np.ndarray] = {}
    for part, rows in (("", data.test), ("val_", data.val)):
        found, _ = predict(model, _task_data(task.name, task, data, rows), batcher, spec.batch_size)
        outs |= {part + k: v for k, v in found.items() if k != "target"}
    for key in ("mean", "lower", "upper", "val_mean", "val_lower", "val_upper"):
        if key in outs:
            outs[key] = np.clip(outs[key], 0, data.rul_cap)
    save_checkpoint(model.cpu(), path, kind="finetune", name=path.stem, extra=extra)
    return Trained("moe", outs, path, origin=origin)


def _resume_moe(model: PlantPulseModel, epoch_state: Path | None, spec: FitSpec,
                echo: Callable[[str], None]) -> StageState | None:
    """Load the last completed epoch from ``epoch_state`` into ``model`` (None: start afresh)."""
    if epoch_state is None or not epoch_state.is_file():
        return None
    saved = load_training_state(epoch_state)
    weights = saved.pop("model")
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise CheckpointError(f"{epoch_state} holds weights of another network ({err}). Delete it, or run "
                              f"plantpulse fit without --resume.") from err
    state = StageState.from_dict(saved)
    echo(f"moe: resuming after epoch {state.epoch} of {spec.epochs} ({epoch_state.name})")
    return state
