"""Untrusted weld files never run code: crafted network definitions and pickled weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from plantpulse.data.core.errors import CheckpointError
from plantpulse.model.weld.architecture import UntrustedArchitectureError, check_architecture
from plantpulse.model.weld.checkpoint import SHIPPED_CHECKPOINT, as_yolo, load_weld_model
from plantpulse.model.weld.runtime import ultralytics
from plantpulse.model.weld.train import TrainConfig, _start_yolo
from plantpulse.pipelines.cli.main import main

EVIL_LAYER = [-1, 1, "torch_safe_load", ["'x.pt'"]]


@pytest.fixture
def unpickled(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Every call of Ultralytics' unpickling loader (replaced by a recorder)."""
    ultralytics()
    from ultralytics.nn import tasks

    calls: list[tuple[Any, ...]] = []

    def record(*args: Any, **kwargs: Any) -> None:
        calls.append(args)

    monkeypatch.setattr(tasks, "torch_safe_load", record)
    return calls


def _stored_yaml() -> dict[str, Any]:
    with safe_open(str(SHIPPED_CHECKPOINT), framework="pt") as handle:
        return json.loads(handle.metadata()["yaml"])


def _rewrite(path: Path, **yaml_changes: Any) -> Path:
    """A copy of the shipped checkpoint whose stored YAML is changed."""
    with safe_open(str(SHIPPED_CHECKPOINT), framework="pt") as handle:
        metadata = handle.metadata()
    definition = {**json.loads(metadata["yaml"]), **yaml_changes}
    save_file(load_file(str(SHIPPED_CHECKPOINT)), str(path),
              metadata={**metadata, "yaml": json.dumps(definition)})
    return path


@pytest.fixture
def crafted(tmp_path: Path) -> Path:
    backbone = _stored_yaml()["backbone"]
    return _rewrite(tmp_path / "crafted.safetensors", backbone=[*backbone[:2], EVIL_LAYER, *backbone[2:]])


def test_crafted_layer_is_refused_before_anything_is_built(crafted: Path, unpickled: list) -> None:
    with pytest.raises(UntrustedArchitectureError,
                       match=r"crafted\.safetensors: layer 2 \('torch_safe_load'\) is not an allowed "
                             r"YOLO module .*The file is not trusted and nothing was built from it"):
        load_weld_model(crafted)
    assert unpickled == []


def test_weld_predict_refuses_the_crafted_checkpoint(crafted: Path, unpickled: list, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    image = tmp_path / "weld.png"
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(image)
    code = main(["--home", str(tmp_path / "home"), "weld", "predict", "--no-store",
                 "--checkpoint", str(crafted), str(image)])
    err = capsys.readouterr().err
    assert code == 2
    assert "crafted.safetensors: layer 2 ('torch_safe_load')" in err and "not trusted" in err
    assert unpickled == []


def test_activation_code_in_a_checkpoint_is_refused(tmp_path: Path) -> None:
    path = _rewrite(tmp_path / "act.safetensors", activation="__import__('os').getcwd()")
    with pytest.raises(UntrustedArchitectureError, match=r"keys \['activation'\] that are not allowed "
                                                         r"\('activation' is evaluated as Python code\)"):
        load_weld_model(path)


def test_stored_yaml_file_name_is_never_opened(unpickled: list, tmp_path: Path) -> None:
    """``as_yolo`` once passed the stored ``yaml_file`` to ``YOLO()``, which unpickles a .pt path."""
    evil = tmp_path / "evil.pt"
    evil.write_bytes(b"\x80\x04 a pickle")
    model = load_weld_model(_rewrite(tmp_path / "named.safetensors", yaml_file=str(evil)))
    yolo = as_yolo(model)
    assert unpickled == [] and yolo.model is not model.network


def _layer(module: str, args: list) -> dict[str, Any]:
    definition = _stored_yaml()
    definition["backbone"] = [*definition["backbone"][:1], [-1, 1, module, args],
                              *definition["backbone"][1:]]
    return definition


@pytest.mark.parametrize(("definition", "match"), [
    (_layer("nn.Sequential", []), r"layer 1 \('nn.Sequential'\) is not an allowed YOLO module"),
    (_layer("TorchVision", [768, "convnext_tiny", "DEFAULT", True, 2]), r"layer 1 \('TorchVision'\)"),
    (_layer("Conv", ["'x.pt'", 3, 2]), r"layer 1 \(Conv\) has arguments \[\"'x.pt'\", 3, 2\]"),
    (_layer("Conv", [{"a": 1}, 3]), r"layer 1 \(Conv\) has arguments"),
    (_layer("Conv", ["__import__('os')"]), r"layer 1 \(Conv\) has arguments"),
    ({**_stored_yaml(), "head": [[-1, 10**6, "Conv", [64, 3, 2]]]}, r"layer 11 \(Conv\) repeats 1000000"),
    ({**_stored_yaml(), "head": [[99, 1, "Conv", [64, 3, 2]]]}, r"takes its input from 99"),
    ({**_stored_yaml(), "head": [[-1, 1, "Conv"]]}, r"layer 11 must be \[from, repeats, module, args\]"),
    ({**_stored_yaml(), "nc": "__import__('os')"}, r"'nc' must be a number"),
    ([], r"is a list, not a mapping"),
], ids=["nn-class", "torchvision", "quoted-path", "dict-arg", "code-arg", "repeats", "from",
        "short-row", "nc-text", "not-a-mapping"])
def test_check_architecture_refuses(definition: Any, match: str) -> None:
    with pytest.raises(UntrustedArchitectureError, match=match):
        check_architecture(definition, "m.safetensors")


@pytest.mark.parametrize("name", ["yolo11n.yaml", "yolo11s.yaml", "yolov8n.yaml", "yolov8n-ghost.yaml",
                                  "yolov5nu.yaml", "yolo12n.yaml", "yolov8n-p2.yaml"])
def test_standard_detection_yamls_are_allowed(name: str) -> None:
    ultralytics()
    from ultralytics.nn.tasks import yaml_model_load

    check_architecture(yaml_model_load(name), name)


def test_shipped_checkpoint_is_allowed() -> None:
    check_architecture(_stored_yaml(), str(SHIPPED_CHECKPOINT))


def test_crafted_model_yaml_for_training_is_refused(unpickled: list, tmp_path: Path) -> None:
    definition = _stored_yaml()
    definition["backbone"].insert(0, EVIL_LAYER)
    path = tmp_path / "evil.yaml"
    path.write_text(json.dumps(definition), encoding="utf-8")  # JSON is YAML
    with pytest.raises(UntrustedArchitectureError, match=r"evil\.yaml: layer 0 \('torch_safe_load'\)"):
        _start_yolo(TrainConfig(model=str(path)))
    assert unpickled == []


def test_pickled_weights_need_trust_pickle(tmp_path: Path) -> None:
    weights = tmp_path / "x.pt"
    weights.write_bytes(b"\x80\x04 a pickle")
    with pytest.raises(CheckpointError, match=r"x\.pt: \.pt weights are Python pickles.*refused by "
                                              r"default.*\.safetensors.*--trust-pickle"):
        TrainConfig(weights=weights).check()
    TrainConfig(weights=weights, trust_pickle=True).check()


def test_start_yolo_passes_the_trust_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from plantpulse.model.weld import train

    weights = tmp_path / "x.pt"
    weights.write_bytes(b"\x80\x04 a pickle")
    seen: list[bool] = []

    def refuse(path: Path, *, allow_pickle: bool) -> None:
        seen.append(allow_pickle)
        raise CheckpointError("stop here")

    monkeypatch.setattr(train, "load_user_weights", refuse)
    for trust in (False, True):
        with pytest.raises(CheckpointError, match="stop here"):
            _start_yolo(TrainConfig(weights=weights, trust_pickle=trust))
    assert seen == [False, True]


def test_weld_train_refuses_pt_weights_without_the_flag(unpickled: list, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "x.pt"
    weights.write_bytes(b"\x80\x04 a pickle")
    code = main(["--home", str(tmp_path / "home"), "weld", "train", "--no-register",
                 "--data", str(tmp_path / "no-data"), "--weights", str(weights)])
    err = capsys.readouterr().err
    assert code == 2 and "Python pickles" in err and "--trust-pickle" in err
    assert unpickled == []


def test_trust_pickle_is_documented_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["weld", "train", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--trust-pickle" in out and "can run any code when loaded" in out


def test_trust_pickle_prints_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "x.pt"
    weights.write_bytes(b"\x80\x04 a pickle")
    main(["--home", str(tmp_path / "home"), "weld", "train", "--no-register", "--data",
          str(tmp_path / "no-data"), "--weights", str(weights), "--trust-pickle"])
    err = capsys.readouterr().err  # the run itself stops at the missing data folder
    assert f"WARNING: loading {weights}, a pickle that can run code, because --trust-pickle" in err
