"""The ``moe`` predictor kind: a ``plantpulse train`` checkpoint scores through the scoring job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scoring_support import CHANNELS, add_readings
from sqlalchemy import select

from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import SensorWindow
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import promote_model_version, register_model_version
from plantpulse.data.store.schema import Prediction
from plantpulse.model.predictor import fill_gaps, load_predictor
from plantpulse.pipelines.score.job import ScoreRequest, run_scoring

pytest.importorskip("plantpulse.model.moe.inference")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from plantpulse.model import PlantPulseModel, TaskSpec, preset
    from plantpulse.model.moe.checkpoint import save_checkpoint

    torch.manual_seed(0)
    cfg = preset("tiny", tasks=(TaskSpec(name="rul:pump", kind="rul", rul_cap=125.0),
                                TaskSpec(name="anomaly:pump", kind="anomaly")), capacity_factor=None)
    extra = {"normalizers": {"pump": {"channels": list(CHANNELS), "mean": [50.0, 100.0], "std": [10.0, 20.0]}},
             "window_lengths": {"pump": 8}}
    path = tmp_path_factory.mktemp("moe") / "plantpulse-student-v1.safetensors"
    return save_checkpoint(PlantPulseModel(cfg), path, kind="student", name="plantpulse-student", extra=extra)


def test_student_checkpoint_scores_the_fleet(checkpoint: Path, tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.upgrade()
    with db.session() as s:
        promote_model_version(s, register_model_version(s, name="plantpulse-student", kind="student",
                                                        path=str(checkpoint)).id)
    add_readings(db, "pump-00", np.linspace(60, 40, 12))
    add_readings(db, "pump-01", [55.0, 54.0, 53.0])  # shorter than the window: left-padded
    result = run_scoring(load_settings(env={}, home=str(tmp_path)), db, ScoreRequest("plantpulse-student"))
    assert (result.considered, result.predictions) == (2, 2)
    with db.session() as s:
        rows = s.scalars(select(Prediction)).all()
    for p in rows:
        assert p.rul_mean is not None and 0 <= p.rul_mean <= 125 and p.rul_lower <= p.rul_mean <= p.rul_upper
        assert p.anomaly_score is not None and set(p.routing) == {"modality_shares", "expert_shares"}
    db.dispose()


def test_missing_channels_and_unknown_asset_types_are_clear_errors(checkpoint: Path) -> None:
    predictor = load_predictor("moe", checkpoint)
    assert predictor.asset_types == ("pump",) and predictor.channels == CHANNELS and predictor.window_length == 8
    with pytest.raises(InputDataError, match=r"no heads for asset type 'turbofan'"):
        predictor.for_asset_type("turbofan")
    window = SensorWindow(1, "pump-09", ("a",), np.arange(3).astype("datetime64[us]"), np.ones((3, 1)))
    with pytest.raises(InputDataError, match=r"pump-09: window lacks channel\(s\) \['b'\]"):
        predictor.for_asset_type("pump").predict([window])


def test_gaps_are_carried_forward_then_back() -> None:
    values = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, 3.0]])
    np.testing.assert_array_equal(fill_gaps(values), [[2.0, 1.0], [2.0, 1.0], [2.0, 3.0]])
