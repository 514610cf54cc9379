"""The stable inference API used by scoring jobs and the dashboard."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from plantpulse.data.core.errors import InputDataError, UnknownNameError
from plantpulse.data.core.records import Prediction
from plantpulse.model.moe.checkpoint import save_checkpoint
from plantpulse.model.moe.inference import load_moe
from plantpulse.model.moe.network import PlantPulseModel

pytestmark = pytest.mark.usefixtures("one_thread")
CHANNELS = ["s_2", "s_3", "s_4"]


@pytest.fixture
def checkpoint(tmp_path, tiny_model):
    norm = {"turbofan": {"channels": CHANNELS, "mean": [640.0, 1590.0, 1400.0], "std": [0.5, 6.0, 9.0]}}
    return save_checkpoint(tiny_model, tmp_path / "pp-v1.safetensors", name="pp", extra={"normalizers": norm})


@pytest.mark.parametrize("quantize", [False, True], ids=["fp32", "int8"])
def test_predict_batch_returns_one_prediction_per_window(checkpoint, quantize, np_rng):
    predictor = load_moe(checkpoint, quantize=quantize)
    windows = np.array([640.0, 1590.0, 1400.0], dtype=np.float32) + np_rng.normal(size=(5, 30, 3)).astype(np.float32)
    records = predictor.predict_batch(windows, CHANNELS, "turbofan",
                                               texts=["HPC wash", None, "", "oil leak", None])
    assert len(records) == 5 and all(isinstance(r, Prediction) for r in records)
    r = records[0]
    assert 0 <= r.rul_lower <= r.rul_mean <= r.rul_upper <= 125
    assert 0 <= r.anomaly_score < 1 and r.fault_probs == {}
    assert set(r.modality_shares) == {"sensor", "image", "text"} and r.modality_shares["image"] == 0
    assert records[1].modality_shares["text"] == 0  # no log text: the modality is masked
    assert len(r.expert_shares) == predictor.model.cfg.n_experts and abs(sum(r.expert_shares) - 1) < 1e-5
    assert predictor.name == "pp v1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.rul_mean = 0.0


def test_channel_order_does_not_matter(tmp_path, tiny_cfg, np_rng):
    # a trained model has a channel vocabulary (the training order); before it, local attention
    # over channel-major tokens made the result depend on the order given
    model = PlantPulseModel(tiny_cfg.replace(channel_vocab=tuple(c.lower() for c in CHANNELS)))
    norm = {"turbofan": {"channels": CHANNELS, "mean": [640.0, 1590.0, 1400.0], "std": [0.5, 6.0, 9.0]}}
    checkpoint = save_checkpoint(model, tmp_path / "pp-v1.safetensors", name="pp", extra={"normalizers": norm})
    predictor = load_moe(checkpoint)
    windows = np_rng.normal(size=(2, 16, 3)).astype(np.float32) + [640.0, 1590.0, 1400.0]
    a = predictor.predict_batch(windows, CHANNELS, "turbofan")
    b = predictor.predict_batch(windows[..., ::-1].copy(), CHANNELS[::-1], "turbofan")
    assert a[0].rul_mean > 0, "a clamped prediction would make the comparison empty"
    assert a[0].rul_mean == pytest.approx(b[0].rul_mean, rel=1e-4, abs=1e-3)


def test_fault_heads_fill_fault_probs(checkpoint):
    record = load_moe(checkpoint).predict_batch(np.zeros((1, 64, 2), np.float32),
                                                               ["drive_end", "fan_end"], "bearing")[0]
    assert set(record.fault_probs) == {"normal", "inner", "outer"} and record.rul_mean is None


def test_bad_requests_get_clear_errors(checkpoint):
    predictor = load_moe(checkpoint)
    with pytest.raises(UnknownNameError, match="Unknown asset type 'pump'. Available: bearing, machine, turbofan"):
        predictor.predict_batch(np.zeros((1, 8, 3), np.float32), CHANNELS, "pump")
    with pytest.raises(InputDataError, match="windows must be"):
        predictor.predict_batch(np.zeros((8, 3), np.float32), CHANNELS, "turbofan")
    with pytest.raises(InputDataError, match=r"channel\(s\) \['T50'\] were not seen"):
        predictor.predict_batch(np.zeros((1, 8, 1), np.float32), ["T50"], "turbofan")
    bad = np.zeros((1, 8, 3), np.float32)
    bad[0, 0, 0] = np.nan
    with pytest.raises(InputDataError, match="NaN"):
        predictor.predict_batch(bad, CHANNELS, "turbofan")


def test_a_model_trained_on_structured_features_is_not_scored_without_them(tmp_path, tiny_model):
    norm = {"turbofan": {"channels": CHANNELS, "mean": [640.0, 1590.0, 1400.0], "std": [0.5, 6.0, 9.0]}}
    path = save_checkpoint(tiny_model, tmp_path / "pp-v1.safetensors", name="pp",
                           extra={"normalizers": norm, "feature_lists": {"turbofan": ["s_2 mean 24h"]}})
    with pytest.raises(InputDataError, match="trained with 1 structured features for asset type 'turbofan'"):
        load_moe(path).predict_batch(np.zeros((1, 8, 3), np.float32), CHANNELS, "turbofan")


def _vibration_checkpoint(tmp_path, tiny_cfg, np_rng, mean_shift: float = 0.0):
    """A bearing model trained (here: built) with the CWRU task option ``structured``: its
    normaliser says how to recompute the 204 vibration features from the window."""
    from plantpulse.model.vibration_features import vibration_feature_names

    channels = ["drive_end_accel", "fan_end_accel"]
    names = vibration_feature_names(tuple(channels))
    cfg = tiny_cfg.replace(feature_tokens=True, feature_path=16, channel_vocab=(*channels, *names))
    model = PlantPulseModel(cfg)
    stats = {"kind": "vibration", "names": list(names), "mean": (np_rng.normal(size=len(names)) + mean_shift).tolist(),
             "std": (1 + np_rng.random(len(names))).tolist()}
    norm = {"bearing": {"channels": channels, "mean": [0.0, 0.0], "std": [1.0, 1.0], "sample_rate_hz": 12000.0,
                        "window_features": stats}}
    extra = {"normalizers": norm, "feature_lists": {"bearing": list(names)}}
    return save_checkpoint(model, tmp_path / f"bearing{mean_shift}-v1.safetensors", name="bearing", extra=extra), channels


def test_vibration_features_are_recomputed_from_the_window_when_scoring(tmp_path, tiny_cfg, np_rng):
    import torch

    from plantpulse.model.vibration_features import vibration_features

    path, channels = _vibration_checkpoint(tmp_path, tiny_cfg, np_rng)
    predictor = load_moe(path)
    windows = np_rng.normal(size=(3, 256, 2)).astype(np.float32)
    windows[1] *= 4  # a louder window: other features, another prediction
    records = predictor.predict_batch(windows, channels, "bearing")
    assert len(records) == 3 and records[0].fault_probs != records[1].fault_probs
    # the features the model received are the window's, standardised with the stored statistics
    seen = {}
    hook = predictor.model.register_forward_pre_hook(lambda _m, args: seen.update(batch=args[0]))
    try:
        predictor.predict_batch(windows, channels, "bearing")
    finally:
        hook.remove()
    spec = predictor.window_features_for("bearing")
    expected = (vibration_features(windows) - np.asarray(spec["mean"])) / np.asarray(spec["std"])
    np.testing.assert_allclose(seen["batch"].features.numpy(), expected, rtol=1e-4, atol=1e-4)
    assert torch.equal(seen["batch"].feature_ids[0], predictor.model.channel_ids(spec["names"]).reshape(-1))
    # the channels in another order give the same features and the same prediction
    swapped = predictor.predict_batch(windows[..., ::-1].copy(), channels[::-1], "bearing")
    assert swapped[0].fault_probs == pytest.approx(records[0].fault_probs, rel=1e-4, abs=1e-5)
    with pytest.raises(InputDataError, match=r"the windows lack \['fan_end_accel'\]"):
        predictor.predict_batch(windows[..., :1].copy(), channels[:1], "bearing")
