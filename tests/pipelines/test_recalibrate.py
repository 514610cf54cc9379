"""Calibrating the RUL interval of an existing checkpoint again (pipelines/train/recalibrate.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from plantpulse.data.core.errors import CheckpointError
from plantpulse.model import PlantPulseModel, TaskSpec, preset
from plantpulse.model.moe.calibration import METHOD, conformal_scale
from plantpulse.model.moe.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from plantpulse.pipelines.train.recalibrate import main, recalibrate

COMMITTED = Path(__file__).resolve().parents[2] / "model" / "checkpoints" / "cmapss-FD002-s0-teacher.safetensors"


def _tiny(tmp_path: Path, extra: dict) -> Path:
    spec = TaskSpec(name="rul:pump", kind="rul", rul_cap=125.0)
    model = PlantPulseModel(preset("tiny", tasks=(spec,), capacity_factor=None, channel_vocab=("a",)))
    return save_checkpoint(model, tmp_path / "pump-v1.safetensors", extra=extra)


def test_a_checkpoint_without_its_data_recipe_is_refused_with_the_remedy(tmp_path: Path) -> None:
    path = _tiny(tmp_path, {"seed": 0})
    with pytest.raises(CheckpointError, match=r"does not record \['datasets', 'bundle_options'\].*plantpulse train"):
        recalibrate(path, tmp_path)
    path = _tiny(tmp_path, {"seed": 0, "datasets": ["my_plant"], "bundle_options": {}})
    with pytest.raises(CheckpointError, match="'my_plant'.*not built-in"):
        recalibrate(path, tmp_path)


def test_rewriting_keeps_the_creation_time_given(tmp_path: Path) -> None:
    spec = TaskSpec(name="rul:pump", kind="rul", rul_cap=125.0)
    model = PlantPulseModel(preset("tiny", tasks=(spec,), capacity_factor=None, channel_vocab=("a",)))
    path = save_checkpoint(model, tmp_path / "x-v1.safetensors", created_at="2026-01-02T03:04:05+00:00")
    assert read_metadata(path).created_at == "2026-01-02T03:04:05+00:00"
    assert read_metadata(save_checkpoint(model, tmp_path / "y-v1.safetensors")).created_at.startswith("20")


@pytest.mark.real_data
def test_a_committed_teacher_is_recalibrated_on_its_own_validation_cuts(datasets_dir: Path, tmp_path: Path) -> None:
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.train.tasks import build_bundle

    path = tmp_path / COMMITTED.name
    shutil.copy(COMMITTED, path)
    model, meta = load_checkpoint(path)
    stale = {"rul:turbofan": {"level": 0.8, "scale": 9.9, "n": 1, "method": "split conformal, |y - p| / std"}}
    save_checkpoint(model, path, kind=meta.kind, name=meta.name, version=meta.version, metrics=meta.metrics,
                    data_fingerprint=meta.data_fingerprint, extra={**meta.extra, "rul_intervals": stale},
                    created_at=meta.created_at)
    dry_old, dry_new = recalibrate(path, datasets_dir, write=False)
    assert dry_old == stale and read_metadata(path).extra["rul_intervals"] == stale  # a dry run writes nothing
    old, new = recalibrate(path, datasets_dir)
    assert old == stale and new == dry_new
    after = read_metadata(path)
    assert after.extra["rul_intervals"] == new and new["rul:turbofan"]["method"] == METHOD
    assert after.tensors_sha256 == meta.tensors_sha256 and after.created_at == meta.created_at
    assert after.metrics == meta.metrics and after.extra["normalizers"] == meta.extra["normalizers"]
    # the multiplier is the current rule's on the validation cuts the checkpoint records
    options = meta.extra["bundle_options"]["cmapss"]
    val = build_bundle("cmapss", datasets_dir, seed=0, **options).splits["rul:turbofan"].val
    out = outputs(model.eval(), val)
    expected = conformal_scale(out["mean"], out["std"], out["target"], 125.0)
    assert new["rul:turbofan"]["n"] == len(val)
    np.testing.assert_allclose(new["rul:turbofan"]["scale"], expected, rtol=1e-4)


def test_the_command_reports_a_bad_path_in_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PLANTPULSE_DATASETS", str(tmp_path))
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path / "missing.safetensors")])
    assert str(stopped.value).startswith("error: ") and "does not exist" in str(stopped.value)
