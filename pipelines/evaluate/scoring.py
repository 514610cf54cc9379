"""Shared scoring steps: head outputs -> metrics, and training the plain-network baseline.

Metrics per head kind (``rul``: RMSE, PHM08 score, 80 % interval coverage and mean width on RUL
clipped to the cap; ``classification``: accuracy and macro-F1; ``multilabel``: PR-AUC and macro-F1 at thresholds
chosen on validation) all come from :mod:`plantpulse.model.metrics`.
"""

from __future__ import annotations

import time

import numpy as np

from plantpulse.model import metrics as M
from plantpulse.model.moe.training import StageOptions, TaskSplits, run_finetune, seed_everything
from plantpulse.pipelines.evaluate.moe import PLAIN_VOCAB, plain_batcher
from plantpulse.pipelines.evaluate.nets import PlainNet, load_plain_timed, save_plain
from plantpulse.pipelines.evaluate.records import Budget, EvalContext


def rul_scores(mean: np.ndarray, true: np.ndarray, cap: float, lower: np.ndarray | None = None,
               upper: np.ndarray | None = None) -> dict[str, float]:
    """RMSE and PHM08 on predictions and truth clipped to [0, cap]; the interval's coverage and mean
    width when bounds are given."""
    pred, target = np.clip(mean, 0, cap), np.clip(true, 0, cap)
    out = {"rmse": M.rmse(pred, target), "phm08": M.phm08_score(pred, target)}
    if lower is not None and upper is not None:
        lo, hi = np.minimum(np.clip(lower, 0, cap), pred), np.maximum(np.clip(upper, 0, cap), pred)
        out["coverage80"] = M.coverage(target, lo, hi)
        out["width80"] = M.mean_width(lo, hi)
    return out


def class_scores(probs: np.ndarray, true: np.ndarray, n_classes: int) -> dict[str, float]:
    pred = probs.argmax(1)
    return {"accuracy": M.accuracy(pred, true),
            "macro_f1": M.macro_f1(pred, true, labels=list(range(n_classes)))}


def multilabel_scores(probs: np.ndarray, true: np.ndarray, thresholds: np.ndarray) -> dict[str, float]:
    pred = (probs >= thresholds[None, :]).astype(int)
    return {"pr_auc": M.pr_auc(probs, true), "macro_f1": M.macro_f1(pred, true.astype(int))}


def plain_net_for(splits: TaskSplits, width: int = 32) -> PlainNet:
    """A :class:`PlainNet` with one branch per modality the task's data carries."""
    data = splits.train
    shape = data.sensor.shape if data.sensor is not None else (0, 0, 0)
    return PlainNet(data.task, channels=shape[2], length=shape[1], image=data.images is not None,
                    text_vocab=PLAIN_VOCAB if data.texts is not None else 0, width=width)


def plain_model(ctx: EvalContext, splits: TaskSplits, seed: int, key: str) -> tuple[PlainNet, float]:
    """The plain network for ``key`` (e.g. ``cmapss-FD001-s0``): trained and saved to
    ``<checkpoint_dir>/plain/<key>.safetensors``, or loaded from there with ``from_checkpoint``."""
    path = ctx.checkpoint_dir / "plain" / f"{key}.safetensors"
    trained_on = splits.train.fingerprint()
    if ctx.from_checkpoint:  # with the training wall time recorded at save; refused if trained on other data
        return load_plain_timed(path, trained_on)
    net, wall = train_plain(splits, ctx.budget, seed)
    save_plain(net, path, wall, trained_on)
    return net, wall


def train_plain(splits: TaskSplits, budget: Budget, seed: int, width: int = 32) -> tuple[PlainNet, float]:
    """Train a plain network with the project's stage-2 loop; returns it and the wall seconds."""
    seed_everything(seed)
    net = plain_net_for(splits, width)
    opts = StageOptions(epochs=budget.net_epochs, steps_per_epoch=budget.net_steps,
                        batch_size=budget.batch_size, lr=budget.lr, seed=seed, device="cpu",
                        show_progress=False, pcgrad=False, patience=3)
    start = time.perf_counter()
    run_finetune(net, [splits], opts, plain_batcher())
    return net.eval(), time.perf_counter() - start
