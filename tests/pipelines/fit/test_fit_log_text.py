"""The maintenance log reaches the network that ``plantpulse fit`` trains, as the text scoring
gives it, and a network trained without it is never handed it at scoring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fit_support import TINY
from sqlalchemy import select

from plantpulse.data.core.records import MaintenanceRecord
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import asset_ids, latest_windows
from plantpulse.data.store.schema import ModelVersion
from plantpulse.model.moe.checkpoint import load_checkpoint
from plantpulse.model.predictor import load_predictor
from plantpulse.pipelines.fit import learners
from plantpulse.pipelines.fit.data import window_texts
from plantpulse.pipelines.fit.job import run_fit
from plantpulse.pipelines.fit.spec import FitSpec
from plantpulse.pipelines.score.texts import LogText

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _event(hours: float, kind: str = "inspection", code: str | None = None, text: str = "Routine check"):
    return MaintenanceRecord(source="log", external_id=f"e{hours}", kind=kind, text=text, asset="p1",
                             ts=T0 + timedelta(hours=hours), code=code)


def test_a_window_reads_only_events_at_or_before_its_end_within_the_lookback() -> None:
    events = [_event(1), _event(10, "warning", "W1"), _event(30, "failure", "E7"), _event(40, "warning", "W2")]
    ends = np.array([(T0 + timedelta(hours=h)).timestamp() for h in (0.5, 10, 30, 39.9, 200)])
    texts = window_texts(events, ends, LogText(events=20, lookback_days=1))
    assert texts[0] is None  # nothing yet
    assert texts[1] == "inspection Routine check 9h ago. warning W1 0h ago."
    assert texts[2] == "warning W1 20h ago."  # the inspection is older than a day; the failure is no text
    assert texts[3] is None  # W1 has left the lookback and W2 comes after the window's end
    assert texts[4] is None
    assert window_texts(events, ends, LogText(events=1, lookback_days=10))[1] == "warning W1 0h ago."  # the last one
    assert all(t is None for t in window_texts(events, ends, LogText(events=0)))


def _fit(db: Database, tmp_path: Path, **fields: Any):
    spec = FitSpec(**{**TINY, "target": "rul", "failure_kind": "failure", "log_features": False, **fields})
    return run_fit(spec, db, tmp_path / "models", tmp_path / "report", echo=lambda _: None, show_progress=False)


def _moe(db: Database) -> ModelVersion:
    with db.session() as s:
        return s.scalars(select(ModelVersion).where(ModelVersion.kind == "moe")).one()


def test_the_fitted_network_trains_and_scores_with_the_log(plant: Database, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    real = learners._task_data
    monkeypatch.setattr(learners, "_task_data", lambda *a: seen.append(real(*a)) or seen[-1])
    result = _fit(plant, tmp_path)
    train = seen[0]
    assert train.texts is not None and train.text_present.all()  # the inspection at 5 h precedes every window
    assert any("W1" in t for t in train.texts)  # the warning before the failures
    assert not any("E7" in t for t in train.texts)  # failures are labels, never text
    assert result.info["windows_with_log_text"] > 0
    version = _moe(plant)
    assert version.config["text_asset_types"] == ["pump"]
    _, meta = load_checkpoint(Path(version.path))
    assert meta.extra["text_asset_types"] == ["pump"]
    predictor = load_predictor("moe", Path(version.path)).for_asset_type("pump")
    assert predictor.accepts_text  # so scoring fetches each asset's recent log for it
    with plant.session() as s:
        windows = list(latest_windows(s, list(asset_ids(s, ["p1"]).values()), 8).values())
    with_log = predictor.predict(windows, ["warning W1 2h ago."])[0]
    without = predictor.predict(windows, [None])[0]
    assert with_log.rul_mean != without.rul_mean  # the text reaches the network


def test_without_the_log_the_network_is_never_handed_text(plant: Database, tmp_path: Path) -> None:
    _fit(plant, tmp_path, log_events=0)
    version = _moe(plant)
    assert version.config["text_asset_types"] == []
    predictor = load_predictor("moe", Path(version.path)).for_asset_type("pump")
    assert not predictor.accepts_text
    with plant.session() as s:
        windows = list(latest_windows(s, list(asset_ids(s, ["p1"]).values()), 8).values())
    torch.manual_seed(0)
    handed = predictor.predict(windows, ["warning W1 2h ago."])[0]
    assert handed.rul_mean == predictor.predict(windows, None)[0].rul_mean  # the text was dropped
