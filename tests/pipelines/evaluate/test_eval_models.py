"""Baseline building blocks on small synthetic data: GBM helpers, the plain network, survival
censoring, CWRU fault-type marginals, the protocol registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from plantpulse.data.errors import UnknownNameError
from plantpulse.model.config import TaskSpec
from plantpulse.model.embeddings import HashingTokenizer
from plantpulse.model.training import Batcher, TaskData, TaskSplits
from plantpulse.pipelines.evaluate import gbm
from plantpulse.pipelines.evaluate.cwru import TYPE_OF, type_probs
from plantpulse.pipelines.evaluate.features import chunked, rul_features, vibration_features
from plantpulse.pipelines.evaluate.moe import outputs
from plantpulse.pipelines.evaluate.nets import load_plain, save_plain
from plantpulse.pipelines.evaluate.protocols import PROTOCOLS
from plantpulse.pipelines.evaluate.records import BUDGETS
from plantpulse.pipelines.evaluate.scoring import plain_net_for, train_plain
from plantpulse.pipelines.evaluate.survival import censored

SPEC = TaskSpec(name="fault:toy", kind="classification", classes=("a", "b"))


def _toy(rng: np.random.Generator, n: int, name: str) -> TaskData:
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 16, 2)).astype(np.float32) + y[:, None, None] * 1.5
    return TaskData(name=name, task=SPEC, groups=np.arange(n), sensor=x, channels=("u", "v"), targets=y)


def test_best_thresholds_maximise_f1_per_column():
    scores = np.array([[0.9, 0.1], [0.6, 0.2], [0.4, 0.3], [0.1, 0.4]])
    truth = np.array([[1, 0], [1, 0], [0, 0], [0, 1]])
    t = gbm.best_thresholds(scores, truth)
    assert 0.4 < t[0] <= 0.6 and t[1] == pytest.approx(0.4)


def test_class_probabilities_give_unseen_classes_zero(rng):
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int) * 2  # classes 0 and 2 only
    probs = gbm.class_probabilities(x, y, x[:20], y[:20], x[:5], n_classes=3, max_iter=30, seed=0)
    assert probs.shape == (5, 3) and np.allclose(probs[:, 1], 0) and np.allclose(probs.sum(1), 1)


def test_plain_net_learns_through_the_training_loop_and_round_trips(rng, tmp_path: Path, seed):
    splits = TaskSplits(_toy(rng, 256, "train"), _toy(rng, 64, "val"), _toy(rng, 64, "test"))
    budget = BUDGETS["quick"].model_copy(update={"net_steps": 40, "net_epochs": 2, "batch_size": 16})
    net, wall = train_plain(splits, budget, seed, width=8)
    probs = outputs(net, splits.test)["probs"]
    assert wall > 0 and (probs.argmax(1) == splits.test.targets).mean() > 0.8
    again = load_plain(save_plain(net, tmp_path / "net.safetensors"))
    assert np.allclose(outputs(again, splits.test)["probs"], probs, atol=1e-6)


def test_survival_durations_are_censored_at_the_period_end():
    t0 = np.datetime64("2015-02-27T00")
    data = TaskData(name="x", task=None, groups=np.arange(3),
                    info={"time": t0 + np.array([0, 24, 40]) * np.timedelta64(1, "h"),
                          "ttf_hours": np.array([10.0, 30.0, 100.0]), "failure_observed": np.array([True, True, False])})
    d, e = censored(data, t0 + np.timedelta64(48, "h"))
    assert d.tolist() == [10.0, 24.0, 8.0] and e.tolist() == [True, False, False]


def test_fault_type_probabilities_sum_the_sizes():
    probs = np.eye(10)[[0, 1, 5, 9]]
    assert type_probs(probs).argmax(1).tolist() == [0, 1, 2, 3] and TYPE_OF.tolist() == [0, 1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_feature_shapes(rng):
    windows = rng.normal(size=(5, 1024, 2)).astype(np.float32)
    assert chunked(windows, vibration_features, chunk=2).shape[0] == 5
    assert rul_features(rng.normal(size=(4, 30, 24))).shape == (4, 96)


def test_unknown_protocol_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="Unknown evaluation protocol 'fd005'. Available: ai4i2020, azure_pdm, cmapss"):
        PROTOCOLS.get("fd005")


def test_plain_net_size_is_close_to_the_student(rng):
    net = plain_net_for(TaskSplits(_toy(rng, 8, "a"), _toy(rng, 8, "b")))
    assert 1_000 < net.n_params() < 60_000
    logits = net(Batcher(HashingTokenizer(64, 8), 16).inputs(_toy(rng, 4, "c"), np.arange(4))).tasks["fault:toy"].logits
    assert logits.shape == (4, 2) and torch.isfinite(logits).all()


def test_subset_rows_keeps_per_row_info_aligned():
    from plantpulse.pipelines.evaluate.moe import subset_rows

    spec = TaskSpec(name="defect:weld", kind="classification", classes=("a", "b"))
    data = TaskData("weld", spec, groups=np.arange(10), images=np.zeros((10, 3, 4, 4), np.float32),
                    targets=np.arange(10) % 2, info={"files": [f"f{i}" for i in range(10)], "source": "x"})
    sub = subset_rows(data, 4, seed=1)
    assert sub.info["files"] == [f"f{g}" for g in sub.groups] and sub.info["source"] == "x"
