"""Scoring gives text-reading models each asset's recent maintenance log, never a later one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from scoring_support import CHANNELS, add_readings

from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.datasets.azure_pdm import EventLog
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import asset_ids, register_model_version
from plantpulse.data.store.schema import MaintenanceEvent
from plantpulse.pipelines.score.compute import Candidate, ModelRef, load_model, recent_texts, score_assets
from plantpulse.pipelines.score.job import request_from
from plantpulse.pipelines.score.texts import LogText, log_text
from plantpulse.pipelines.train.tasks import azure

END = datetime(2026, 1, 1, 11, tzinfo=UTC)  # the last of 12 hourly readings from 2026-01-01 00:00


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from plantpulse.model import PlantPulseModel, TaskSpec, preset
    from plantpulse.model.moe.checkpoint import save_checkpoint

    torch.manual_seed(0)
    cfg = preset("tiny", tasks=(TaskSpec(name="rul:pump", kind="rul", rul_cap=125.0),
                                TaskSpec(name="failure24h:pump", kind="multilabel", classes=("seal", "motor"))),
                 capacity_factor=None)
    extra = {"normalizers": {"pump": {"channels": list(CHANNELS), "mean": [50.0, 100.0], "std": [10.0, 20.0]}},
             "window_lengths": {"pump": 8}}
    path = tmp_path_factory.mktemp("moe") / "plantpulse-student-v1.safetensors"
    return save_checkpoint(PlantPulseModel(cfg), path, kind="student", name="plantpulse-student", extra=extra)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    database.upgrade()
    add_readings(database, "pump-00", np.linspace(60, 40, 12))
    yield database
    database.dispose()


def _event(db: Database, when: datetime, kind: str, code: str | None = None, component: str | None = None,
           text: str = "") -> None:
    with db.session() as s:
        asset = asset_ids(s, ["pump-00"])["pump-00"]
        s.add(MaintenanceEvent(asset_id=asset, ts=when, kind=kind, code=code, component=component, text=text,
                               source="test", external_id=f"{kind}-{when.isoformat()}"))


def _score(db: Database, checkpoint: Path, logs: LogText):
    with db.session() as s:
        version = register_model_version(s, name=f"student-{logs.events}", kind="student", path=str(checkpoint))
        ref = ModelRef(version.id, version.name, version.version, "moe", str(checkpoint))
        asset = asset_ids(s, ["pump-00"])["pump-00"]
    (row,) = score_assets(db, load_model(ref), ref, [Candidate(asset, "pump-00", "pump")], 16, logs).rows
    return row.prediction


def test_log_text_changes_the_moe_prediction(db: Database, checkpoint: Path) -> None:
    _event(db, END - timedelta(hours=5), "error", code="error3")
    _event(db, END - timedelta(days=3), "maintenance", component="comp2")
    without = _score(db, checkpoint, LogText(events=0))
    with_text = _score(db, checkpoint, LogText())
    assert without.modality_shares["text"] == 0 and with_text.modality_shares["text"] > 0
    assert with_text.rul_mean != pytest.approx(without.rul_mean, rel=1e-6)


def test_events_after_the_window_do_not_reach_the_model(db: Database, checkpoint: Path) -> None:
    none_yet = _score(db, checkpoint, LogText(events=0))
    _event(db, END + timedelta(minutes=1), "error", code="error1")  # after the scored window's end
    assert _score(db, checkpoint, LogText()) == none_yet


def test_text_query_is_bounded_in_time_and_count(db: Database) -> None:
    _event(db, END - timedelta(days=8), "error", code="error5")  # before the 7-day look-back
    _event(db, END - timedelta(days=3), "maintenance", component="comp2")
    _event(db, END - timedelta(hours=30), "failure", component="comp2")  # never in the text
    _event(db, END - timedelta(hours=5), "error", code="error3")
    _event(db, END, "logbook", text="HYD  LEAK AT PUMP")  # at the end itself: seen
    _event(db, END + timedelta(hours=1), "error", code="error1")  # later: never seen
    from plantpulse.data.store.repository import latest_windows

    with db.session() as s:
        asset = asset_ids(s, ["pump-00"])["pump-00"]
        window = latest_windows(s, [asset], 8)[asset]
        assert recent_texts(s, [window], LogText()) == [
            "maint comp2 3d ago. error error3 5h ago. logbook HYD LEAK AT PUMP 0h ago."]
        assert recent_texts(s, [window], LogText(events=2)) == ["error error3 5h ago. logbook HYD LEAK AT PUMP 0h ago."]
        assert recent_texts(s, [window], LogText(lookback_days=0.1)) == ["logbook HYD LEAK AT PUMP 0h ago."]


def test_scoring_and_training_write_the_same_phrases() -> None:
    t0 = np.datetime64("2015-01-10T06:00:00")
    hours = np.timedelta64(1, "h")
    errors = EventLog(np.array([t0 - 5 * hours], dtype="datetime64[s]"), np.array([1], np.int32),
                      np.array(["error3"], object))
    maint = EventLog(np.array([t0 - 72 * hours], dtype="datetime64[s]"), np.array([1], np.int32),
                     np.array(["comp2"], object))
    trained = azure.event_text(errors, maint, 1, t0, np.timedelta64(7, "D"))
    from plantpulse.data.core.records import MaintenanceRecord

    end = datetime(2015, 1, 10, 6, tzinfo=UTC)
    stored = [MaintenanceRecord("azure_pdm.maint", "1", "maintenance", "", ts=end - timedelta(hours=72),
                                component="comp2"),
              MaintenanceRecord("azure_pdm.errors", "2", "error", "", ts=end - timedelta(hours=5), code="error3")]
    assert log_text(stored, end) == trained == "maint comp2 3d ago. error error3 5h ago."
    assert log_text([], end) is None


def test_settings_reach_the_request() -> None:
    settings = load_settings(env={"PLANTPULSE_SCORING__LOG_EVENTS": "3", "PLANTPULSE_SCORING__LOG_LOOKBACK_DAYS": "2"})
    assert request_from(settings).logs == LogText(3, 2.0)
