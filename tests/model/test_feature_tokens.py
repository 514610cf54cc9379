"""Structured feature tokens: one token per feature with its own weight, in the sensor slot."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plantpulse.data.core.errors import InputDataError
from plantpulse.model import ModelInput, PlantPulseModel, TaskSpec, preset
from plantpulse.model.moe.channels import ChannelIndex
from plantpulse.model.moe.layers.embeddings import FeatureEmbedding, HashingTokenizer
from plantpulse.model.moe.training.data import Batcher, TaskData
from plantpulse.model.moe.training.pretrain import random_token_masks

pytestmark = pytest.mark.usefixtures("one_thread")

TASK = TaskSpec(name="fault:mill", kind="classification", classes=("ok", "worn", "hot"))
NAMES = ("torque [nm]", "tool wear [min]", "type l")


def _model(**changes) -> PlantPulseModel:
    torch.manual_seed(0)
    return PlantPulseModel(preset("tiny", tasks=(TASK,), channel_vocab=(*NAMES, "volt"), feature_tokens=True,
                                  **changes))


def _features(model: PlantPulseModel, b: int = 5) -> dict[str, torch.Tensor]:
    return {"features": torch.randn(b, len(NAMES)), "feature_ids": model.channel_ids(NAMES).expand(b, -1)}


def test_a_table_row_alone_fills_the_sensor_slot_with_one_token_per_feature():
    model = _model()
    out = model(ModelInput(**_features(model)))
    assert out.tasks[TASK.name].logits.shape == (5, 3)
    tokens = out.embedded["sensor"]
    assert tokens.tokens.shape[1] == model.cfg.n_global_tokens + len(NAMES)
    assert tokens.path == "features" and bool(tokens.present.all())


def test_features_follow_the_window_tokens_of_the_same_sample():
    model = _model()
    window = {"sensor": torch.randn(5, 8, 1), "sensor_channels": model.channel_ids(["volt"]).expand(5, -1)}
    alone = model.embed(ModelInput(**window))["sensor"]
    both = model.embed(ModelInput(**window, **_features(model)))["sensor"]
    n = alone.tokens.shape[1]
    assert both.tokens.shape[1] == n + len(NAMES) and both.path == alone.path
    torch.testing.assert_close(both.tokens[:, :n], alone.tokens[:, :n])  # the window's tokens unchanged


def test_each_feature_has_its_own_value_direction():
    """The point of the token type: the same value on two features moves along two directions
    (a shared projection plus an added identity would move both along one)."""
    emb = FeatureEmbedding(preset("tiny", channel_vocab=NAMES, feature_tokens=True))
    ids = torch.tensor([[0, 1]])
    one = emb(torch.ones(1, 2), ids).values[0]
    two = emb(2 * torch.ones(1, 2), ids).values[0]
    step = two - one  # value direction per feature
    assert torch.cosine_similarity(step[0], step[1], dim=0).abs() < 0.9
    torch.testing.assert_close(emb(torch.zeros(1, 2), ids).values, torch.zeros(1, 2, emb.weight.embedding_dim))


def test_the_periodic_encoding_is_bounded_and_can_pick_out_a_band_of_values():
    """PLR tokens: a value far outside the training range does not blow the token up (a linear
    token grows without bound), and after training a band of one feature (a middle range, not
    "more" or "less") is told apart from both sides, which no monotone token can do alone."""
    cfg = preset("tiny", channel_vocab=NAMES, feature_tokens=True, feature_frequencies=8, feature_frequency_scale=0.5)
    torch.manual_seed(0)
    emb = FeatureEmbedding(cfg)
    ids = torch.tensor([[0, 1]])
    far = emb(torch.tensor([[1e4, -1e4]]), ids).values
    assert torch.isfinite(far).all() and far.abs().max() < 100
    assert not hasattr(emb, "weight") and emb.frequency.weight.shape[1] == 8

    x = torch.linspace(-3, 3, 256)
    band = (x.abs() < 1).float()  # positive in the middle only
    head = torch.nn.Linear(cfg.d_model, 1)
    optim = torch.optim.Adam([*emb.parameters(), *head.parameters()], lr=0.02)
    for _ in range(300):
        logits = head(emb(x[:, None], torch.zeros(256, 1, dtype=torch.long)).values[:, 0]).squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, band)
        optim.zero_grad()
        loss.backward()
        optim.step()
    accuracy = ((logits > 0).float() == band).float().mean()
    assert accuracy > 0.95


def test_the_periodic_encoding_round_trips_through_a_checkpoint_config():
    model = _model(feature_frequencies=4)
    out = model(ModelInput(**_features(model)))
    assert out.tasks[TASK.name].logits.shape == (5, 3)
    again = PlantPulseModel(model.cfg)
    again.load_state_dict(model.state_dict())
    torch.manual_seed(1)
    batch = ModelInput(**_features(model))
    model.eval(), again.eval()
    torch.testing.assert_close(model(batch).tasks[TASK.name].logits, again(batch).tasks[TASK.name].logits)


def test_a_model_without_feature_tokens_refuses_features_clearly():
    model = PlantPulseModel(preset("tiny", tasks=(TASK,), channel_vocab=NAMES))
    assert not model.cfg.feature_tokens and not any("features" in k for k in model.state_dict())
    with pytest.raises(InputDataError, match="without structured feature tokens"):
        model(ModelInput(features=torch.randn(2, 3), feature_ids=model.channel_ids(NAMES).expand(2, -1)))


def test_bad_feature_input_gets_a_clear_error():
    model = _model()
    with pytest.raises(InputDataError, match="feature_ids must have shape"):
        model(ModelInput(features=torch.randn(2, 3)))
    with pytest.raises(InputDataError, match="features contains NaN"):
        model(ModelInput(features=torch.tensor([[0.0, float("nan"), 1.0]] * 2),
                         feature_ids=model.channel_ids(NAMES).expand(2, -1)))
    with pytest.raises(InputDataError, match="features has 3 rows"):
        TaskData(name="t", task=None, groups=np.arange(2), features=np.zeros((3, 3), np.float32), feature_names=NAMES)
    with pytest.raises(InputDataError, match="F = 3 feature names"):
        TaskData(name="t", task=None, groups=np.arange(2), features=np.zeros((2, 2), np.float32), feature_names=NAMES)


def test_task_data_and_batcher_carry_features():
    rows = np.arange(6)
    data = TaskData(name="mill", task=TASK, groups=rows, targets=rows % 3,
                    features=np.arange(18, dtype=np.float32).reshape(6, 3), feature_names=NAMES)
    assert data.modalities == ("sensor",)
    part = data.subset(np.array([4, 1]))
    np.testing.assert_array_equal(part.features, data.features[[4, 1]])
    assert data.fingerprint() != data.subset(np.array([0, 1, 2, 3, 5, 4])).fingerprint()
    index = ChannelIndex(NAMES, 8)
    batch = Batcher(HashingTokenizer(64, 8), index).inputs(data, np.array([4, 1]))
    torch.testing.assert_close(batch.features, torch.from_numpy(data.features[[4, 1]]))
    assert batch.feature_ids.tolist() == [[0, 1, 2]] * 2
    without = data.without_modality("sensor")
    assert without.features is None and without.feature_names == () and without.modalities == ()


def test_pretraining_masks_hide_window_tokens_only():
    model = _model()
    batch = ModelInput(sensor=torch.randn(4, 16, 1), sensor_channels=model.channel_ids(["volt"]).expand(4, -1),
                       **_features(model, 4))
    masks = random_token_masks(batch, model.cfg, 0.5, torch.Generator().manual_seed(0))
    tokens = model.embed(batch, masks)["sensor"]
    assert tokens.masked.shape[1] == masks["sensor"].shape[1] + len(NAMES)
    assert not bool(tokens.masked[:, -len(NAMES):].any())
    assert tokens.targets.shape[:2] == tokens.masked.shape


def test_window_summary_tokens_follow_the_patches_of_slow_sensors():
    from plantpulse.model.moe.layers.embeddings import window_statistics

    t = torch.arange(5, dtype=torch.float32)
    values = torch.stack([2 * t, torch.full((5,), 3.0)], dim=-1)[None]  # a ramp and a constant
    stats = window_statistics(values)[0]
    torch.testing.assert_close(stats[0], torch.tensor([8.0, 4.0, (8.0) ** 0.5, 8.0]))  # slope: change over the window
    torch.testing.assert_close(stats[1], torch.tensor([3.0, 3.0, 0.0, 0.0]))
    torch.testing.assert_close(window_statistics(values[:, :1])[0, :, 3], torch.zeros(2))  # one step: no slope

    model = _model(window_summary_tokens=True)
    window = {"sensor": torch.randn(4, 16, 1), "sensor_channels": model.channel_ids(["volt"]).expand(4, -1)}
    plain = PlantPulseModel(preset("tiny", tasks=(TASK,), channel_vocab=(*NAMES, "volt")))
    n = plain.embed(ModelInput(**window))["sensor"].tokens.shape[1]
    assert model.embed(ModelInput(**window))["sensor"].tokens.shape[1] == n + 1  # one per channel
    # left out while tokens are hidden for reconstruction (they would give the hidden values away)
    hide = {"sensor": torch.zeros(4, n - model.cfg.n_global_tokens, dtype=torch.bool)}
    assert model.embed(ModelInput(**window), hide)["sensor"].tokens.shape[1] == n
    # waveforms keep their spectral tokens only
    fast = ModelInput(**window, sensor_rate_hz=12_000.0)
    assert model.embed(fast)["sensor"].path == "waveform"
    assert model.embed(fast)["sensor"].tokens.shape == plain.embed(fast)["sensor"].tokens.shape
