"""``plantpulse models``: register (safetensors only, validated, what it serves recorded), list,
show, promote and roll back (each one transaction, printing what changed)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from scoring_support import CHANNELS
from sqlalchemy import select

import plantpulse.pipelines.models.registry as registry
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import ModelVersion
from plantpulse.model.baseline.quantile_mlp import BaselineRulModel, RunToFailure
from plantpulse.pipelines.cli.main import main


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    database = Database(url)
    database.upgrade()
    database.dispose()
    return url


def run(capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    code = main(["--db", url, "--home", str(tmp_path / "home"), *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def baseline_file(folder: Path, asset_type: str = "pump", name: str = "baseline.safetensors") -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(60, dtype=np.float64)
    runs = [RunToFailure(f"r{i}", np.column_stack([100 - 0.5 * t, 0.3 * t]) + rng.normal(0, 0.2, (60, 2)))
            for i in range(4)]
    model = BaselineRulModel(CHANNELS, asset_type=asset_type, window=10, cap=30.0, hidden=8).fit(runs, epochs=1)
    return model.save(folder / name, {"rmse": 12.5})


def stages(url: str) -> list[tuple[int, str]]:
    database = Database(url)
    try:
        with database.session() as s:
            return [(v.version, v.stage) for v in s.scalars(select(ModelVersion).order_by(ModelVersion.version))]
    finally:
        database.dispose()


def test_a_pickle_is_refused_without_being_opened(capsys, db_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps(Payload()))
    code, out = run(capsys, db_url, tmp_path, "models", "register", str(path))
    assert code == 2
    assert "only .safetensors model files can be registered" in out and "model.pt" in out
    assert not marker.exists() and stages(db_url) == []


def test_register_reads_the_kind_from_the_file_and_records_what_it_serves(capsys, db_url: str, tmp_path: Path) -> None:
    path = baseline_file(tmp_path)
    code, out = run(capsys, db_url, tmp_path, "models", "register", str(path), "--name", "pump-rul", "--task", "rul")
    assert code == 0, out
    assert "registered pump-rul v1 (candidate) serving pump" in out
    code, out = run(capsys, db_url, tmp_path, "models", "list")
    assert code == 0
    for text in ("pump-rul v1", "kind baseline", "stage candidate", "asset types: pump", "pump: a, b",
                 "rmse 12.5", str(path.resolve()), "sha256:"):
        assert text in out, text
    code, out = run(capsys, db_url, tmp_path, "models", "show", "pump-rul", "--json")
    shown = json.loads(out)
    assert (shown["kind"], shown["asset_types"], shown["channels"]) == ("baseline", ["pump"], {"pump": ["a", "b"]})
    assert len(shown["sha256"]) == 64


def test_a_safetensors_file_that_names_no_kind_needs_kind_and_must_load(capsys, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    code, out = run(capsys, db_url, tmp_path, "models", "register", str(path))
    assert code == 2 and "names no predictor kind; pass --kind" in out
    code, out = run(capsys, db_url, tmp_path, "models", "register", str(path), "--kind", "nonsense")
    assert code == 2 and "unknown predictor kind 'nonsense'" in out
    code, out = run(capsys, db_url, tmp_path, "models", "register", str(path), "--kind", "baseline")
    assert code == 2 and "not a PlantPulse baseline checkpoint" in out
    assert stages(db_url) == []


def test_promote_and_rollback_print_what_changed(capsys, db_url: str, tmp_path: Path) -> None:
    for i in (1, 2):
        path = baseline_file(tmp_path, name=f"m{i}.safetensors")
        assert run(capsys, db_url, tmp_path, "models", "register", str(path), "--name", "rul")[0] == 0
    code, out = run(capsys, db_url, tmp_path, "models", "promote", "rul", "--version", "1")
    assert (code, out.strip()) == (0, "rul v1: candidate -> production")
    code, out = run(capsys, db_url, tmp_path, "models", "promote", "rul")
    assert out.splitlines() == ["rul v1: production -> archived", "rul v2: candidate -> production"]
    code, out = run(capsys, db_url, tmp_path, "models", "promote", "rul")
    assert code == 2 and "already the production version" in out
    code, out = run(capsys, db_url, tmp_path, "models", "rollback", "rul")
    assert out.splitlines() == ["rul v1: archived -> production", "rul v2: production -> archived"]
    assert stages(db_url) == [(1, "production"), (2, "archived")]
    code, out = run(capsys, db_url, tmp_path, "models", "promote", "nope")
    assert code == 2 and "No model named 'nope' is registered. Registered: rul" in out


def test_a_promote_that_fails_midway_changes_nothing(capsys, db_url: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for i in (1, 2):
        run(capsys, db_url, tmp_path, "models", "register", str(baseline_file(tmp_path, name=f"m{i}.safetensors")),
            "--name", "rul")
    run(capsys, db_url, tmp_path, "models", "promote", "rul", "--version", "1")
    real = registry.promote_model_version

    def fail_after(session, version_id):
        real(session, version_id)
        session.flush()
        raise OSError("disk gone")

    monkeypatch.setattr(registry, "promote_model_version", fail_after)
    with pytest.raises(OSError):
        main(["--db", db_url, "--home", str(tmp_path / "home"), "models", "promote", "rul"])
    assert stages(db_url) == [(1, "production"), (2, "candidate")]


def test_a_moe_checkpoint_registers_with_its_kind_types_and_channels(capsys, db_url: str, tmp_path: Path) -> None:
    from plantpulse.model import PlantPulseModel, TaskSpec, preset
    from plantpulse.model.moe.checkpoint import save_checkpoint

    torch.manual_seed(0)
    cfg = preset("tiny", tasks=(TaskSpec(name="rul:pump", kind="rul", rul_cap=125.0),), capacity_factor=None)
    extra = {"normalizers": {"pump": {"channels": list(CHANNELS), "mean": [50.0, 100.0], "std": [10.0, 20.0]}},
             "window_lengths": {"pump": 8}}
    path = save_checkpoint(PlantPulseModel(cfg), tmp_path / "mine.safetensors", kind="student", name="mine",
                           metrics={"rmse": 20.0}, extra=extra)
    code, out = run(capsys, db_url, tmp_path, "models", "register", str(path), "--promote")
    assert code == 0, out
    assert "registered mine v1 (candidate) serving pump" in out and "mine v1: candidate -> production" in out
    code, out = run(capsys, db_url, tmp_path, "models", "show", "mine", "--json")
    shown = json.loads(out)
    assert (shown["kind"], shown["stage"], shown["channels"]) == ("student", "production", {"pump": ["a", "b"]})
    assert shown["metrics"] == {"rmse": 20.0}
