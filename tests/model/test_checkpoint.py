"""Checkpoint round trip and clear errors for corrupted or mismatched files."""

from __future__ import annotations

import pytest
import torch

from plantpulse.data.core.errors import CheckpointError
from plantpulse.model import PlantPulseModel
from plantpulse.model.moe.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_training_state,
    next_version_path,
    read_metadata,
    save_checkpoint,
    save_training_state,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def saved(tmp_path, tiny_model):
    with torch.no_grad():
        tiny_model.blocks[0].ffn.expert_bias.fill_(0.25)  # buffers travel too
    path = save_checkpoint(tiny_model, tmp_path / "m.safetensors", kind="teacher", name="pp",
                           metrics={"rmse": 12.5}, data_fingerprint="abc123",
                           extra={"normalizers": {"turbofan": {"channels": ["a"], "mean": [0.0], "std": [1.0]}}})
    return path, tiny_model


def test_round_trip_restores_weights_config_and_metadata(saved, batch_factory):
    path, model = saved
    loaded, meta = load_checkpoint(path, expected_config=model.cfg)
    assert meta.config == model.cfg and meta.kind == "teacher" and meta.metrics == {"rmse": 12.5}
    assert meta.data_fingerprint == "abc123" and meta.extra["normalizers"]["turbofan"]["channels"] == ["a"]
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    batch = batch_factory(model.cfg)
    torch.testing.assert_close(model.eval()(batch).pooled, loaded(batch).pooled)


def test_truncated_file_is_reported_as_corrupted(saved):
    path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="is corrupted"):
        load_checkpoint(path)


def test_flipped_weight_bytes_fail_the_checksum(saved):
    path, _ = saved
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # inside the last tensor's bytes; the header still parses
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="do not match their recorded checksum"):
        load_checkpoint(path)


def test_garbage_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupted or not a safetensors file"):
        read_metadata(path)


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist. Train one with `plantpulse train`"):
        load_checkpoint(tmp_path / "none.safetensors")


def test_mismatched_config_names_the_differing_fields(saved):
    path, model = saved
    other = model.cfg.replace(d_model=64, n_layers=3)
    with pytest.raises(CheckpointError, match=r"d_model: checkpoint has 32, expected 64; n_layers: checkpoint has 2"):
        load_checkpoint(path, expected_config=other)


def test_weights_of_another_architecture_are_refused(tmp_path, tiny_model, tiny_cfg):
    path = save_checkpoint(tiny_model, tmp_path / "m.safetensors")
    bigger = PlantPulseModel(tiny_cfg.replace(n_layers=3))
    forged = save_checkpoint(bigger, tmp_path / "forged.safetensors")
    # graft the small model's header config onto the bigger weights: keys no longer fit
    from safetensors import safe_open
    from safetensors.torch import save_file
    with safe_open(str(forged), "pt") as fh:
        state = {k: fh.get_tensor(k) for k in fh.keys()}
    with safe_open(str(path), "pt") as fh:
        meta = dict(fh.metadata())
    meta["tensors_sha256"] = ""
    save_file(state, str(forged), metadata=meta)
    with pytest.raises(CheckpointError, match="does not fit the architecture"):
        load_checkpoint(forged)


def test_versions_increase(tmp_path, tiny_model):
    assert latest_checkpoint(tmp_path, "pp") is None
    first, v1 = next_version_path(tmp_path, "pp")
    save_checkpoint(tiny_model, first, version=v1)
    second, v2 = next_version_path(tmp_path, "pp")
    assert (v1, v2) == (1, 2) and second.name == "pp-v2.safetensors"
    assert latest_checkpoint(tmp_path, "pp") == first


def test_training_state_round_trip_and_refuses_pickled_code(tmp_path):
    state = {"epoch": 3, "best": float("inf"), "opt": {"state": {0: {"step": torch.tensor(2.0)}},
                                                       "param_groups": [{"betas": (0.9, 0.99), "params": [0]}]}}
    path = save_training_state(tmp_path / "s.state.safetensors", state)
    back = load_training_state(path)
    assert (back["epoch"], back["best"]) == (3, float("inf"))
    assert list(back["opt"]["state"]) == [0]  # optimiser state stays keyed by parameter number
    assert float(back["opt"]["state"][0]["step"]) == 2.0
    assert back["opt"]["param_groups"][0]["betas"] == (0.9, 0.99)
    evil = tmp_path / "evil.pt"
    torch.save({"f": print}, evil)  # a callable needs full unpickling
    with pytest.raises(CheckpointError, match="cannot be read safely"):
        load_training_state(evil)
