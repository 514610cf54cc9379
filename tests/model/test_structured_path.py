"""The structured-feature path: an MLP over the feature vector, added before the task heads."""

from __future__ import annotations

import pytest
import torch

from plantpulse.model import ModelInput, PlantPulseModel, TaskSpec, preset
from plantpulse.model.moe.checkpoint import load_checkpoint, save_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

TASK = TaskSpec(name="failure:machine", kind="classification", classes=("ok", "fails"))
NAMES = ("error1 count 24h", "hours since comp1 replaced", "volt mean 24h")


def _model(**changes) -> PlantPulseModel:
    torch.manual_seed(0)
    return PlantPulseModel(preset("tiny", tasks=(TASK,), channel_vocab=(*NAMES, "volt"), feature_tokens=True,
                                  **changes))


def _batch(model: PlantPulseModel, values: torch.Tensor, names=NAMES) -> ModelInput:
    return ModelInput(features=values, feature_ids=model.channel_ids(names).expand(len(values), -1))


def test_a_new_path_adds_nothing_until_it_is_trained():
    """Zero-initialised output, built after every other module: the same seed gives the same
    model with or without the path, so adding it to a recipe changes nothing at the start."""
    without, with_path = _model(), _model(feature_path=32)
    assert without.structured is None and with_path.structured is not None
    _same_logits(with_path, without)


def _same_logits(one: PlantPulseModel, other: PlantPulseModel) -> None:
    values = torch.randn(6, len(NAMES))
    for m in (one, other):
        m.eval()
    torch.testing.assert_close(one(_batch(one, values)).tasks[TASK.name].logits,
                               other(_batch(other, values)).tasks[TASK.name].logits)


def test_the_path_needs_feature_tokens_and_windows_alone_skip_it():
    assert PlantPulseModel(preset("tiny", tasks=(TASK,), feature_path=32)).structured is None
    model = _model(feature_path=32)
    window = ModelInput(sensor=torch.randn(3, 8, 1), sensor_channels=model.channel_ids(["volt"]).expand(3, -1))
    assert model(window).tasks[TASK.name].logits.shape == (3, 2)


def test_the_order_of_the_features_does_not_matter():
    model = _model(feature_path=32)
    with torch.no_grad():
        model.structured.out.weight.normal_()  # a trained-looking path
    model.eval()
    values = torch.randn(4, len(NAMES))
    order = [2, 0, 1]
    given = model.structured(values, model.channel_ids(NAMES).expand(4, -1))
    shuffled = model.structured(values[:, order], model.channel_ids([NAMES[i] for i in order]).expand(4, -1))
    torch.testing.assert_close(given, shuffled)


def _fit(model: PlantPulseModel, values: torch.Tensor, labels: torch.Tensor, steps: int) -> float:
    """Train the path alone (every other weight stays as drawn) and return the accuracy."""
    torch.manual_seed(1)
    optim = torch.optim.Adam(model.structured.parameters(), lr=3e-3)
    batch = _batch(model, values)
    model.train()
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(batch).tasks[TASK.name].logits, labels)
        optim.zero_grad()
        loss.backward()
        optim.step()
    model.eval()
    with torch.no_grad():
        return float((model(batch).tasks[TASK.name].logits.argmax(-1) == labels).float().mean())


def test_the_path_learns_a_threshold_rule_on_two_features():
    """The rule behind a failure in a maintenance table: recent errors AND an old part. Trained
    alone, with the encoder and the head as drawn, the path carries the rule to the head (a path
    that did not reach the heads would stay at the base rate, 0.81 here)."""
    gen = torch.Generator().manual_seed(0)
    values = torch.randn(256, len(NAMES), generator=gen)
    labels = ((values[:, 0] > 0.5) & (values[:, 1] > 0.0)).long()
    accuracy = _fit(_model(feature_path=64), values, labels, steps=150)
    assert accuracy > 0.95


def test_the_path_round_trips_through_a_checkpoint_and_freezes_with_the_backbone(tmp_path):
    model = _model(feature_path=32)
    with torch.no_grad():
        model.structured.out.weight.normal_()
    path = save_checkpoint(model, tmp_path / "m.safetensors")
    again, _ = load_checkpoint(path)
    assert again.cfg.feature_path == 32
    values = torch.randn(5, len(NAMES))
    model.eval()
    torch.testing.assert_close(again(_batch(again, values)).tasks[TASK.name].logits,
                               model(_batch(model, values)).tasks[TASK.name].logits)
    again.freeze_backbone(True)
    assert not any(p.requires_grad for p in again.structured.parameters())


IMAGE_TASK = TaskSpec(name="defect:weld", kind="classification", classes=("good", "bad"))


def _image_model(**changes) -> PlantPulseModel:
    torch.manual_seed(0)
    return PlantPulseModel(preset("tiny", tasks=(IMAGE_TASK,), **changes))


def test_a_new_bag_path_adds_nothing_until_it_is_trained():
    without, with_bag = _image_model(), _image_model(bag_paths=("image",))
    assert list(with_bag.bags) == ["image"] and not without.bags
    images = torch.rand(4, 3, 64, 64)
    for m in (without, with_bag):
        m.eval()
    torch.testing.assert_close(with_bag(ModelInput(image=images)).tasks[IMAGE_TASK.name].logits,
                               without(ModelInput(image=images)).tasks[IMAGE_TASK.name].logits)


def test_a_bag_path_ignores_an_absent_image():
    model = _image_model(bag_paths=("image",))
    with torch.no_grad():
        model.bags["image"].out.weight.normal_()
    model.eval()
    text = {"text_ids": torch.randint(2, 100, (2, 8)), "text_mask": torch.ones(2, 8, dtype=torch.bool)}
    absent = torch.tensor([False, True])
    one = model(ModelInput(image=torch.rand(2, 3, 64, 64), image_present=absent, **text)).tasks[IMAGE_TASK.name].logits
    two = model(ModelInput(image=torch.rand(2, 3, 64, 64), image_present=absent, **text)).tasks[IMAGE_TASK.name].logits
    torch.testing.assert_close(one[0], two[0])  # the absent image's pixels do not matter
    assert not torch.allclose(one[1], two[1])  # the present one's do, through the path too


def test_the_image_bag_path_learns_what_a_global_average_tells():
    """Bright against dark photos, learnt by the bag path alone (everything else as drawn): the
    global average of the stem's grid reaches the head (the base rate is 0.5)."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(64) % 2
    images = torch.rand(64, 3, 64, 64, generator=gen) * 0.5 + 0.4 * labels[:, None, None, None]
    model = _image_model(bag_paths=("image",))
    optim = torch.optim.Adam(model.bags.parameters(), lr=3e-3)
    model.train()
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(ModelInput(image=images)).tasks[IMAGE_TASK.name].logits, labels)
        optim.zero_grad()
        loss.backward()
        optim.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(ModelInput(image=images)).tasks[IMAGE_TASK.name].logits.argmax(-1) == labels).float().mean()
    assert accuracy > 0.95


RUL_TASK = TaskSpec(name="rul:turbofan", kind="rul")
SENSORS = ("s_2", "s_3", "s_4")


def _rul_model(**changes) -> PlantPulseModel:
    torch.manual_seed(0)
    return PlantPulseModel(preset("tiny", tasks=(RUL_TASK,), channel_vocab=SENSORS, **changes))


def _window(model: PlantPulseModel, values: torch.Tensor, names=SENSORS) -> ModelInput:
    return ModelInput(sensor=values, sensor_channels=model.channel_ids(names).expand(len(values), -1))


def test_a_new_summary_path_adds_nothing_and_ignores_the_order_of_channels():
    without, with_path = _rul_model(), _rul_model(summary_path=32)
    values = torch.randn(4, 50, len(SENSORS))
    for m in (without, with_path):
        m.eval()
    torch.testing.assert_close(with_path(_window(with_path, values)).tasks[RUL_TASK.name].mean,
                               without(_window(without, values)).tasks[RUL_TASK.name].mean)
    with torch.no_grad():
        with_path.summary_path.out.weight.normal_()
    order = [2, 0, 1]
    torch.testing.assert_close(with_path(_window(with_path, values)).tasks[RUL_TASK.name].mean,
                               with_path(_window(with_path, values[..., order], [SENSORS[i] for i in order]))
                               .tasks[RUL_TASK.name].mean)


def test_the_summary_path_learns_a_trend_that_a_last_value_hides():
    """Degradation as a slope: windows that end at the same value but rise or fall. Trained alone,
    the summary path tells them apart (the slope is one of its statistics)."""
    gen = torch.Generator().manual_seed(0)
    t = torch.linspace(-1, 0, 50)
    rising = torch.arange(64) % 2 == 1
    slope = torch.where(rising, 1.0, -1.0)[:, None, None]
    values = slope * t[None, :, None] + 0.05 * torch.randn(64, 50, len(SENSORS), generator=gen)
    target = torch.where(rising, 20.0, 100.0)
    model = _rul_model(summary_path=64)
    optim = torch.optim.Adam(model.summary_path.parameters(), lr=1e-2)
    model.train()
    for _ in range(150):
        out = model(_window(model, values)).tasks[RUL_TASK.name]
        loss = (out.mean - target).pow(2).mean()
        optim.zero_grad()
        loss.backward()
        optim.step()
    model.eval()
    with torch.no_grad():
        mean = model(_window(model, values)).tasks[RUL_TASK.name].mean
    assert float((mean - target).abs().mean()) < 10.0  # the two groups are 80 cycles apart


def test_bin_edges_and_the_piecewise_linear_encoding():
    from plantpulse.model.moe.layers.structured import bin_edges, piecewise_linear

    edges = bin_edges(8)
    assert edges.shape == (9,) and bool((edges[1:] > edges[:-1]).all())
    torch.testing.assert_close(edges, -edges.flip(0))  # symmetric about the standardised mean
    assert float(edges[4]) == pytest.approx(0.0, abs=1e-6)  # the median is an edge for an even count
    encoded = piecewise_linear(torch.tensor([-9.0, 0.0, 9.0]), edges)
    assert encoded[0].tolist() == [0.0] * 8 and encoded[2].tolist() == [1.0] * 8
    assert encoded[1].tolist() == [1.0] * 4 + [0.0] * 4
    inside = piecewise_linear(torch.tensor([0.5 * float(edges[5])]), edges)[0]
    assert inside[:4].tolist() == [1.0] * 4 and float(inside[4]) == pytest.approx(0.5) and inside[5:].sum() == 0


def test_bins_keep_the_draw_order_and_start_as_a_path_without_them():
    plain, binned = _model(feature_path=32), _model(feature_path=32, feature_path_bins=8)
    assert plain.structured.bin_weight is None and binned.structured.bin_weight.weight.shape[1] == 8 * 32
    torch.testing.assert_close(binned.structured.weight.weight, plain.structured.weight.weight)
    torch.testing.assert_close(binned.structured.hidden.weight, plain.structured.hidden.weight)
    _same_logits(binned, plain)


def test_bins_learn_a_narrow_band_that_the_value_alone_learns_slowly():
    """Failures inside a band of one reading (AI4I's heat-dissipation failures sit in a band of
    temperature difference and speed): with bins the first layer has a step near each edge."""
    gen = torch.Generator().manual_seed(0)
    values = torch.randn(512, len(NAMES), generator=gen)
    labels = ((values[:, 0] > 0.6) & (values[:, 0] < 1.2)).long()  # 16 % of the rows
    plain = _fit(_model(feature_path=64), values, labels, steps=60)
    binned = _fit(_model(feature_path=64, feature_path_bins=16), values, labels, steps=60)
    assert binned > 0.97 and binned > plain + 0.05


def test_a_binned_path_round_trips_through_a_checkpoint(tmp_path):
    model = _model(feature_path=32, feature_path_bins=8)
    with torch.no_grad():
        model.structured.out.weight.normal_()
    again, _ = load_checkpoint(save_checkpoint(model, tmp_path / "m.safetensors"))
    assert again.cfg.feature_path_bins == 8
    values = torch.randn(5, len(NAMES))
    model.eval()
    torch.testing.assert_close(again(_batch(again, values)).tasks[TASK.name].logits,
                               model(_batch(model, values)).tasks[TASK.name].logits)
