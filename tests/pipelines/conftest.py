"""Fixtures shared by the pipeline tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from plantpulse.pipelines.cli.main import main


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str, str]]:
    """``run(*args)`` -> (exit code, stdout, stderr) of ``plantpulse --home <tmp>/home ARGS``,
    with no settings file or database URL leaking in from the environment."""
    monkeypatch.chdir(tmp_path)
    for key in ("PLANTPULSE_CONFIG", "PLANTPULSE_DB_URL", "PLANTPULSE_DATABASE_URL", "PLANTPULSE_HOME"):
        monkeypatch.delenv(key, raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        code = main(["--home", str(tmp_path / "home"), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return invoke


def _untrained_detector(path: Path, threshold: float) -> Path:
    import torch

    from plantpulse.model.weld.checkpoint import make_weld_model, save_weld_model, untrained_weld_model
    from plantpulse.model.weld.synthetic import NAMES

    torch.manual_seed(0)
    model = untrained_weld_model(NAMES, imgsz=96)
    for branch in model.network.model[-1].cv3:
        branch[-1].bias.data.zero_()
    card = replace(model.card, reject_threshold=threshold, reject_classes=("Bad Weld", "Defect"))
    return save_weld_model(make_weld_model(model.network, card), path)


@pytest.fixture(scope="session")
def make_detector() -> Callable[[Path, float], Path]:
    """``make_detector(path, threshold)``: an untrained weld detector whose class bias is zeroed
    (every box scores 0.5), saved at ``path`` with ``threshold`` as its verdict threshold."""
    return _untrained_detector
