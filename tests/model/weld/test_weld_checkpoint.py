"""Pickle-free weld checkpoints: round trips, int8 storage and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from plantpulse.data.core.errors import CheckpointError
from plantpulse.model.weld.checkpoint import (
    WeldModel,
    load_user_weights,
    load_weld_model,
    quantize_int8,
    read_card,
    save_weld_model,
    untrained_weld_model,
)
from plantpulse.model.weld.synthetic import NAMES


@pytest.fixture(scope="module")
def model() -> WeldModel:
    torch.manual_seed(0)
    return untrained_weld_model(NAMES, imgsz=96).with_card(reject_threshold=0.3,
                                                          reject_classes=("Defect",))


def test_round_trip_keeps_version_card_and_outputs(model: WeldModel, tmp_path: Path) -> None:
    path = save_weld_model(model, tmp_path / "m.safetensors")
    loaded = load_weld_model(path)
    assert loaded.version == model.version
    assert loaded.card == model.card
    x = torch.rand(1, 3, 96, 96)
    with torch.inference_mode():
        a, b = model.network.eval()(x)[0], loaded.network.eval()(x)[0]
    assert torch.allclose(a, b, atol=0.05, rtol=0.01)  # weights are stored in float16
    assert read_card(path)["reject_threshold"] == 0.3


def test_int8_halves_the_file_and_round_trips_exactly(model: WeldModel, tmp_path: Path) -> None:
    fp16 = save_weld_model(model, tmp_path / "fp16.safetensors").stat().st_size
    quantized = quantize_int8(model)
    path = save_weld_model(quantized, tmp_path / "int8.safetensors")
    assert path.stat().st_size < 0.6 * fp16
    loaded = load_weld_model(path)
    assert loaded.version == quantized.version != model.version
    assert loaded.card.train["weights"] == "int8"
    for name, tensor in quantized.network.state_dict().items():
        assert torch.equal(tensor, loaded.network.state_dict()[name]), name


def test_int8_rounding_error_is_small(model: WeldModel) -> None:
    quantized = quantize_int8(model)
    original, rounded = model.network.state_dict(), quantized.network.state_dict()
    name = next(n for n in quantized.int8_scales)
    error = (original[name] - rounded[name]).abs().amax(dim=(1, 2, 3))
    # half a quantisation step, plus float16 rounding of the stored value (127 steps * 2**-11)
    assert torch.all(error <= quantized.int8_scales[name] * (0.5 + 127 / 2048) + 1e-8)


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist. Train one with 'plantpulse weld train'"):
        load_weld_model(tmp_path / "none.safetensors")


def test_pt_files_are_not_loaded_as_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    path.write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(CheckpointError, match="pickles and are only accepted as user-supplied"):
        load_weld_model(path)
    with pytest.raises(CheckpointError, match="can run code when loaded"):
        load_user_weights(path, allow_pickle=False)


def test_foreign_safetensors_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "something-else"})
    with pytest.raises(CheckpointError, match="not a PlantPulse weld checkpoint"):
        load_weld_model(path)


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_weld_model(path)


def test_tampered_weights_are_detected(model: WeldModel, tmp_path: Path) -> None:
    path = save_weld_model(model, tmp_path / "m.safetensors")
    tensors = load_file(str(path))
    name = next(n for n, t in tensors.items() if t.is_floating_point() and t.numel() > 100)
    tensors[name] = tensors[name] + 1
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(CheckpointError, match="do not match the stored version"):
        load_weld_model(path)


def test_wrong_shapes_are_reported(model: WeldModel, tmp_path: Path) -> None:
    path = save_weld_model(model, tmp_path / "m.safetensors")
    tensors = load_file(str(path))
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    card = json.loads(metadata["card"])
    card["names"] = ["a", "b"]  # two classes: the head no longer fits the stored weights
    save_file(tensors, str(path), metadata={**metadata, "card": json.dumps(card)})
    with pytest.raises(CheckpointError, match="weights do not fit the stored network"):
        load_weld_model(path)


def test_save_needs_safetensors_suffix(model: WeldModel, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="written as .safetensors files"):
        save_weld_model(model, tmp_path / "m.pt")
