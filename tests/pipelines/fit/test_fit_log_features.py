"""Structured maintenance-log features (per event code: counts in 24 h and 7 d, hours since the
last one): computed from the past only, learnt on the training assets, read by every learner of
``plantpulse fit``, and computed the same way from the store when the fitted model scores."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fit_support import TINY
from safetensors import safe_open
from sqlalchemy import select

from plantpulse.data.core.errors import CheckpointError, InputDataError
from plantpulse.data.core.records import MaintenanceRecord
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import asset_ids, latest_windows
from plantpulse.data.store.schema import ModelVersion
from plantpulse.model.log_features import MAX_HOURS, LogFeatures
from plantpulse.model.moe.checkpoint import read_metadata
from plantpulse.model.predictor import load_predictor
from plantpulse.pipelines.fit.job import run_fit
from plantpulse.pipelines.fit.labels import Event, event_codes
from plantpulse.pipelines.fit.spec import FitSpec
from plantpulse.pipelines.fit.windows import AssetWindows
from plantpulse.pipelines.models.registry import predictor_kind
from plantpulse.pipelines.score.compute import Candidate, ModelRef, recent_log_features, score_assets

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _event(hours: float, kind: str = "error", code: str | None = "E3", component: str | None = None):
    return MaintenanceRecord(source="log", external_id=f"{kind}{code}{hours}", kind=kind, text="x", asset="p1",
                             ts=T0 + timedelta(hours=hours), code=code, component=component)


def _at(*hours: float) -> np.ndarray:
    return np.array([(T0 + timedelta(hours=h)).timestamp() for h in hours])


def test_counts_and_hours_since_read_only_the_past() -> None:
    log = [_event(1), _event(10), _event(30), _event(40, "maintenance", None, "comp2"),
           _event(41, "failure", "F1"), _event(42, "inspection", None)]  # a label and a free-text event
    spec = LogFeatures.learn([log], min_events=1)
    assert spec is not None and spec.subjects == ("error E3", "maintenance comp2")
    assert spec.names[:2] == ("error E3 count 24h", "maintenance comp2 count 24h")
    assert spec.names[-1] == "hours since maintenance comp2"
    got = spec.raw(log, _at(0.5, 10, 33, 200))
    e3_24h, e3_7d, e3_since = got[:, 0], got[:, 2], got[:, 4]
    assert e3_24h.tolist() == [0, 2, 2, 0]  # (end - 24 h, end]: the event at the end counts, none after
    assert e3_7d.tolist() == [0, 2, 3, 0]  # 200 h: all three are older than 7 days
    assert e3_since.tolist() == [MAX_HOURS, 0, 3, 170]
    assert got[:, 5].tolist() == [MAX_HOURS, MAX_HOURS, MAX_HOURS, 160]  # comp2 only after hour 40


def test_subjects_are_the_frequent_ones_and_a_log_without_codes_has_none() -> None:
    log = [_event(h, code=c) for h, c in ((1, "A"), (2, "A"), (3, "B"), (4, "B"), (5, "B"), (6, "C"))]
    assert LogFeatures.learn([log]).subjects == ("error A", "error B")  # C occurs once
    assert LogFeatures.learn([log], max_subjects=1).subjects == ("error B",)
    assert LogFeatures.learn([[_event(1, "inspection", None)] * 3]) is None


def test_the_stored_spec_round_trips_and_a_tampered_one_is_refused() -> None:
    spec = LogFeatures.learn([[_event(1), _event(2)]])
    assert spec is not None
    spec = spec.fitted(spec.raw([_event(1), _event(2)], _at(3, 30, 90)))
    assert LogFeatures.from_dict(json.loads(json.dumps(spec.to_dict())), "m") == spec
    for bad in ({**spec.to_dict(), "mean": [0.0]}, {**spec.to_dict(), "std": ["1"] * 3},
                {**spec.to_dict(), "subjects": "error E3"}, {**spec.to_dict(), "max_hours": float("nan")}, []):
        with pytest.raises(CheckpointError, match="log features"):
            LogFeatures.from_dict(bad, "m")


def test_an_event_at_a_windows_end_is_history_not_its_label() -> None:
    ends = _at(10, 20)
    aw = AssetWindows(asset="p1", windows=np.zeros((2, 4, 1)), ends=ends, first=ends[0], last=ends[1],
                      grid=np.zeros((2, 1)), grid_ends=ends, channels=("a",), extra={})
    spec = FitSpec(**{**TINY, "target": "class", "event_codes": True, "horizon_hours": 24})
    events = [Event(ends[0], "failure", "F1"), Event(ends[1] + 1800, "maintenance", "M1"),
              Event(ends[1] + 3600, "failure", "F2")]
    assert event_codes(spec, aw, events).targets.tolist() == ["M1", "M1"]  # any coded event by default
    labels = event_codes(spec.model_copy(update={"failure_kind": "failure"}), aw, events)
    assert labels.targets.tolist() == ["F2", "F2"]  # F1 at the first end is in the past of that window


def _fit(db: Database, tmp_path: Path, **fields: Any):
    spec = FitSpec(**{**TINY, "target": "rul", "failure_kind": "failure", "log_events": 0, **fields})
    return run_fit(spec, db, tmp_path / "models", tmp_path / "report", echo=lambda _: None, show_progress=False)


def _versions(db: Database) -> dict[str, ModelVersion]:
    with db.session() as s:
        return {v.kind: v for v in s.scalars(select(ModelVersion))}


def test_every_learner_fits_on_the_log_features_and_scoring_computes_them(plant: Database, tmp_path: Path) -> None:
    result = _fit(plant, tmp_path)
    names = ["warning W1 count 24h", "warning W1 count 168h", "hours since warning W1"]
    assert result.info["log_features"] == names  # the inspection has no code: text only
    versions = _versions(plant)
    assert versions["moe"].config["feature_lists"] == {"pump": names}
    network = read_metadata(versions["moe"].path).config
    assert network.feature_tokens and network.feature_path == 0  # tokens only, the default
    with safe_open(versions["gbm"].path, framework="numpy") as handle:
        assert json.loads(handle.metadata()["meta"])["log_features"]["subjects"] == ["warning W1"]
    with plant.session() as s:
        ids = asset_ids(s, ["p1", "p5"])
        windows = list(latest_windows(s, list(ids.values()), 8).values())
        computed = recent_log_features(s, windows, LogFeatures(("warning W1",)))
    by_asset = dict(zip((w.asset_name for w in windows), computed.tolist(), strict=True))
    assert by_asset["p5"] == [0, 0, MAX_HOURS]  # p5 never warned
    assert by_asset["p1"] == [1, 1, 11]  # p1's last reading is 11 h after its warning
    for kind in ("gbm", "weibull", "moe"):
        version = versions[kind]
        predictor = load_predictor(predictor_kind(kind), Path(version.path)).for_asset_type("pump")
        assert predictor.log_features is not None and predictor.log_features.names == tuple(names)
        with pytest.raises(InputDataError, match="maintenance-log features"):
            predictor.predict(windows)
        log = np.array([[1.0, 1.0, 11.0]] * 2)
        warned = predictor.predict(windows, None, log)
        quiet = predictor.predict(windows, None, np.array([[0.0, 0.0, MAX_HOURS]] * 2))
        if kind == "moe":  # the feature tokens reach the network
            assert [p.rul_mean for p in warned] != [p.rul_mean for p in quiet]
        else:  # the trees' inputs end with the standardised log features (20 rounds on 5 pumps may not split)
            inputs = predictor.features(windows, log)
            assert np.allclose(inputs[:, -3:], predictor.log_features.standardise(log))
        ref = ModelRef(version.id, version.name, version.version, predictor_kind(kind), version.path)
        scored = score_assets(plant, predictor, ref, [Candidate(i, n, "pump") for n, i in ids.items()], 8)
        assert not scored.skipped and len(scored.rows) == 2
        got = {r.asset_id: r.prediction.rul_mean for r in scored.rows}
        assert got[ids["p1"]] == pytest.approx(warned[[w.asset_name for w in windows].index("p1")].rul_mean)


def test_without_log_features_no_learner_needs_them(plant: Database, tmp_path: Path) -> None:
    result = _fit(plant, tmp_path, log_features=False)
    assert "log_features" not in result.info
    for kind, version in _versions(plant).items():
        assert "feature_lists" not in version.config
        assert load_predictor(predictor_kind(kind), Path(version.path)).for_asset_type("pump").log_features is None


def test_the_network_can_also_read_the_log_features_through_the_mlp_path(plant: Database, tmp_path: Path) -> None:
    _fit(plant, tmp_path, feature_path=32)
    version = _versions(plant)["moe"]
    assert read_metadata(version.path).config.feature_path == 32
    predictor = load_predictor(predictor_kind("moe"), Path(version.path)).for_asset_type("pump")
    with plant.session() as s:
        windows = list(latest_windows(s, list(asset_ids(s, ["p1", "p5"]).values()), 8).values())
    warned = predictor.predict(windows, None, np.array([[1.0, 1.0, 11.0]] * 2))
    quiet = predictor.predict(windows, None, np.array([[0.0, 0.0, MAX_HOURS]] * 2))
    assert [p.rul_mean for p in warned] != [p.rul_mean for p in quiet]
