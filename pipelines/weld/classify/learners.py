"""The three learners of the weld classifier, on the same split: gradient boosting on colour
histograms and gradient texture (the evaluation protocol's weld baseline), the plain CNN of the
evaluation harness (:func:`plantpulse.pipelines.evaluate.scoring.train_plain`) and the MoE image
path (the ``tiny`` preset with one classification head, trained by the project's stage-2 loop).
Each stops early on validation (boosting rounds, epochs) and is saved as safetensors (the trees as
arrays, as the ``gbm`` predictor kind stores them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plantpulse.model.baseline.window_gbm import ensembles, save_gbm
from plantpulse.model.image_features import image_features
from plantpulse.model.moe.checkpoint import save_checkpoint
from plantpulse.model.moe.config import preset
from plantpulse.model.moe.network import PlantPulseModel
from plantpulse.model.moe.training import StageOptions, TaskSplits, run_finetune
from plantpulse.model.moe.training.runtime import seed_everything
from plantpulse.pipelines.evaluate.gbm import fit_classifier
from plantpulse.pipelines.evaluate.moe import batcher_for, outputs
from plantpulse.pipelines.evaluate.nets import save_plain
from plantpulse.pipelines.evaluate.records import Budget
from plantpulse.pipelines.evaluate.scoring import train_plain

# model-version kinds (not sensor predictors)
KINDS = {"gbm": "weld-class-gbm", "cnn": "weld-class-cnn", "moe": "weld-class-moe"}
ORIGIN = {"gbm": "Gradient boosting (colour + gradient features)", "cnn": "Plain CNN (image)",
          "moe": "MoE image path (tiny preset, one head)"}
GBM_ROUNDS = 400  # at most; the number used is chosen on validation log-loss


@dataclass(frozen=True)
class Budgets:
    """How much each learner trains: epochs, optimiser steps per epoch, batch size, learning rate."""

    epochs: int = 8
    steps: int = 40
    batch_size: int = 32
    lr: float = 2e-3
    seed: int = 0


@dataclass
class Trained:
    """One learner's validation and test class probabilities (N, K), its file and wall seconds."""

    learner: str
    val_probs: np.ndarray
    test_probs: np.ndarray
    path: Path
    wall_s: float


def train_gbm(splits: TaskSplits, budget: Budgets, path: Path, classes: tuple[str, ...]) -> Trained:
    """Gradient boosting on :func:`image_features`, rounds chosen on validation log-loss."""
    assert splits.test is not None
    start = time.perf_counter()
    parts = (splits.train, splits.val, splits.test)
    x_tr, x_val, x_te = (image_features(np.asarray(d.images)) for d in parts)
    y_tr, y_val = (np.asarray(d.targets).astype(int) for d in parts[:2])
    fitted = fit_classifier(x_tr, y_tr, x_val, y_val, GBM_ROUNDS, budget.seed)
    present = fitted.model.classes_.astype(int)
    probs = {}
    for name, x in (("val", x_val), ("test", x_te)):
        probs[name] = np.zeros((len(x), len(classes)))
        probs[name][:, present] = fitted.predict_proba(x)
    trees = ensembles(fitted.model, fitted.rounds)
    # the gbm file format's header (one asset type, no sensor channels): read back by predict.py
    meta = {"asset_type": "weld", "target": "class", "channels": [], "window": 0,
            "features": "image colour histograms + gradient texture", "image_size": int(np.asarray(splits.train.images).shape[-1]), "classes": [classes[k] for k in present],
            "rounds": int(fitted.rounds)}
    save_gbm(path, {f"class{k}": t for k, t in enumerate(trees)}, meta,
             fitted.bins.edges if fitted.bins is not None else None)
    return Trained("gbm", probs["val"], probs["test"], path, round(time.perf_counter() - start, 1))


def train_cnn(splits: TaskSplits, budget: Budgets, path: Path) -> Trained:
    """The plain CNN of the evaluation harness, saved with :func:`save_plain`."""
    plan = Budget(name="weld-class", net_epochs=budget.epochs, net_steps=budget.steps,
                  batch_size=budget.batch_size, lr=budget.lr)
    net, wall = train_plain(splits, plan, budget.seed)
    save_plain(net, path, wall)
    assert splits.test is not None
    return Trained("cnn", outputs(net, splits.val)["probs"], outputs(net, splits.test)["probs"], path,
                   round(wall, 1))


def train_moe(splits: TaskSplits, budget: Budgets, path: Path, extra: dict[str, Any]) -> Trained:
    """The MoE's image path: a ``tiny`` network at the images' size with one classification head."""
    seed_everything(budget.seed)
    task = splits.train.task
    assert task is not None and splits.train.images is not None and splits.test is not None
    size = int(splits.train.images.shape[-1])
    model = PlantPulseModel(preset("tiny", tasks=(task,), image_size=size, image_patch=8))
    opts = StageOptions(epochs=budget.epochs, steps_per_epoch=budget.steps, batch_size=budget.batch_size,
                        lr=budget.lr, seed=budget.seed, device="cpu", show_progress=False, pcgrad=False,
                        val_batches=max(1, -(-len(splits.val) // budget.batch_size)))
    start = time.perf_counter()
    run_finetune(model, [TaskSplits(splits.train, splits.val)], opts, batcher_for(model))
    wall = time.perf_counter() - start
    model.eval()
    save_checkpoint(model, path, kind="finetune", name=path.stem, extra=extra)
    return Trained("moe", outputs(model, splits.val)["probs"], outputs(model, splits.test)["probs"], path,
                   round(wall, 1))
