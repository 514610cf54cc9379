"""Behaviour of code paths reshaped so the type checker can follow them (batching, modality
ablation, regime statistics without settings, weight-decay groups, anomaly radius)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.layers.embeddings import HashingTokenizer
from plantpulse.model.moe.layers.heads import AnomalyHead
from plantpulse.model.moe.regimes import fit_normalizer
from plantpulse.model.moe.training import Batcher, TaskData
from plantpulse.model.moe.training.runtime import decay_groups

SPEC = TaskSpec(name="fault:toy", kind="classification", classes=("a", "b"))


def _data(n: int = 4, rate_hz: float | None = 12_000.0) -> TaskData:
    rng = np.random.default_rng(0)
    return TaskData(name="toy", task=SPEC, groups=np.arange(n),
                    sensor=rng.normal(size=(n, 8, 2)).astype(np.float32), channels=("u", "v"),
                    images=np.zeros((n, 3, 4, 4), np.uint8), texts=("a b",) * n,
                    text_present=np.ones(n, bool), targets=np.zeros(n, int), sample_rate_hz=rate_hz)


def test_batch_carries_the_sensor_rate_only_with_sensors():
    batcher = Batcher(HashingTokenizer(64, 8), 16)
    data = _data()
    assert batcher.inputs(data, np.arange(2)).sensor_rate_hz == 12_000.0
    assert batcher.inputs(_data(rate_hz=None), np.arange(2)).sensor_rate_hz is None
    no_sensor = batcher.inputs(data.without_modality("sensor"), np.arange(2))
    assert no_sensor.sensor is None and no_sensor.sensor_rate_hz is None
    assert no_sensor.image is not None and no_sensor.text_ids is not None


@pytest.mark.parametrize(("modality", "cleared"), [("sensor", ("sensor",)), ("image", ("images",)),
                                                  ("text", ("texts", "text_present"))])
def test_without_modality_clears_only_that_modality(modality, cleared):
    data = _data()
    reduced = data.without_modality(modality)
    for name in ("sensor", "images", "texts", "text_present"):
        assert (getattr(reduced, name) is None) == (name in cleared), name
    assert reduced.channels == (() if modality == "sensor" else data.channels)
    assert reduced.modalities == tuple(m for m in data.modalities if m != modality)


def test_normalizer_without_settings_has_one_regime():
    rng = np.random.default_rng(0)
    rows = np.column_stack([np.full(200, 518.67), rng.normal(loc=5.0, size=200)])
    stats = fit_normalizer(rows, ("s_1", "s_2"))
    assert stats["regimes"] == 1 and "conditions" not in stats
    assert stats["channels"] == ["s_2"] and stats["dropped"] == ["s_1"]
    assert all(isinstance(name, str) for name in stats["channels"] + stats["dropped"])
    assert stats["mean"] == pytest.approx([rows[:, 1].mean()])


def test_decay_groups_of_a_parameter_list_and_of_modules_sharing_parameters():
    weight, bias = torch.nn.Parameter(torch.ones(3, 2)), torch.nn.Parameter(torch.ones(3))
    decay, keep = decay_groups([weight, bias], 0.1)
    assert decay["params"] == [weight] and keep["params"] == [bias]
    shared = torch.nn.Linear(2, 3)
    decay, keep = decay_groups([shared, torch.nn.Sequential(shared)], 0.1)  # each parameter once
    assert decay["params"] == [shared.weight] and keep["params"] == [shared.bias]


def test_anomaly_radius_is_a_buffer_set_by_fit_radius():
    head = AnomalyHead(8, TaskSpec(name="anomaly:toy", kind="anomaly"))
    head.fit_radius(torch.arange(1.0, 101.0), quantile=0.5)
    assert float(head.radius) == pytest.approx(50.5)
    assert set(dict(head.named_buffers())) == {"center", "radius"}
    out = head(torch.zeros(2, 8))
    assert torch.allclose(out.score, out.distance / (out.distance + 50.5))
