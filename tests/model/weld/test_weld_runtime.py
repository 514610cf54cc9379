"""Ultralytics runs offline: no network call, nothing written to the home folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs in a fresh interpreter so that the socket layer is blocked *before* Ultralytics is
# imported (it checks connectivity at import time).
SCRIPT = r"""
import json, socket, sys
attempts = []

def refuse(kind):
    def blocked(*args, **kwargs):
        attempts.append(f"{kind}{args[:2]!r}")
        raise OSError("network access is blocked in this test")
    return blocked

socket.getaddrinfo = refuse("getaddrinfo")
socket.create_connection = refuse("create_connection")
_connect = socket.socket.connect
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        return refuse("connect")(address)
    return _connect(self, address)
socket.socket.connect = connect

from pathlib import Path
from plantpulse.model.weld.runtime import ultralytics
state = Path(sys.argv[1])
ultralytics(state / "ultralytics")
from plantpulse.connectors.images.validation import validate_image
from plantpulse.model.weld.evaluate import evaluate_detection
from plantpulse.model.weld.export import export_onnx
from plantpulse.model.weld.predict import OnnxWeldDetector, TorchWeldDetector, detect
from plantpulse.model.weld.synthetic import write_synthetic_dataset
from plantpulse.model.weld.train import TrainConfig, train_detector
from plantpulse.pipelines.weld.workflow import prepare_data

root = write_synthetic_dataset(state / "data", {"train": 4, "valid": 2, "test": 2}, size=64)
data = prepare_data(root, state / "work", "original")
result = train_detector(data.data_yaml, data.names, TrainConfig(imgsz=64, epochs=1, batch=4),
                        state / "runs" / "r1")
metrics = evaluate_detection(result.model, data.data_yaml, "test")
images = [validate_image(item.image) for item in data.split.test]
detect(TorchWeldDetector.from_model(result.model), images)
detect(OnnxWeldDetector.load(export_onnx(result.model, state / "m.onnx")), images)
print("RESULT " + json.dumps({"attempts": attempts, "map50": metrics.map50}))
"""


@pytest.mark.slow
def test_train_val_predict_export_make_no_network_call(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO_", "XDG_", "MPL"))}
    env["HOME"] = str(home)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "state")], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["attempts"] == []
    assert 0.0 <= result["map50"] <= 1.0
    assert not (home / ".config").exists()  # no Ultralytics or matplotlib state in the home folder
    assert not (home / ".cache" / "matplotlib").exists()
    settings = json.loads((tmp_path / "state" / "ultralytics" / "Ultralytics" / "settings.json")
                          .read_text())
    assert settings["sync"] is False and settings["wandb"] is False
    assert (tmp_path / "state" / "ultralytics" / "Ultralytics" / "Arial.ttf").is_file()
