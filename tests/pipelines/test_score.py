"""Scoring: incremental, idempotent, all-or-nothing, with de-duplicated alerts and work orders."""

from __future__ import annotations

import csv
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from pydantic import SecretStr
from scoring_support import MODEL, add_readings, make_fleet, register_fixed
from sqlalchemy import func, select

import plantpulse.pipelines.score.job as score_job
from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.core.errors import ConfigError
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import acknowledge_alert
from plantpulse.data.store.schema import Alert, Prediction
from plantpulse.pipelines.score.job import ScoreRequest, run_scoring


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'plant.db'}")
    database.upgrade()
    yield database
    database.dispose()


def settings_for(tmp_path: Path, **alerts: object):
    return load_settings(env={}, home=str(tmp_path / "home"), alerts=alerts or None)


def count(db: Database, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_only_assets_with_new_data_are_scored_and_reruns_write_nothing(db: Database, tmp_path: Path) -> None:
    register_fixed(db, tmp_path, rul_scale=10.0)
    make_fleet(db, [50, 60, 70])
    settings = settings_for(tmp_path)
    first = run_scoring(settings, db, ScoreRequest(MODEL))
    assert (first.considered, first.predictions) == (3, 3)
    assert run_scoring(settings, db, ScoreRequest(MODEL)).considered == 0
    add_readings(db, "pump-01", [55.0], start_hour=100)
    again = run_scoring(settings, db, ScoreRequest(MODEL))
    assert (again.considered, again.predictions) == (1, 1)
    forced = run_scoring(settings, db, ScoreRequest(MODEL, force=True))
    assert (forced.considered, forced.predictions, forced.new_alerts, forced.refreshed_alerts) == (3, 0, (), ())
    assert count(db, Prediction) == 4


def test_prediction_fields_come_from_the_latest_window(db: Database, tmp_path: Path) -> None:
    register_fixed(db, tmp_path, rul_scale=2.0)
    add_readings(db, "pump-00", [9.0, 8.0, 7.0])
    run_scoring(settings_for(tmp_path), db, ScoreRequest(MODEL))
    with db.session() as s:
        p = s.scalar(select(Prediction))
    assert (p.rul_mean, p.rul_lower, p.rul_upper) == (14.0, pytest.approx(11.2), pytest.approx(16.8))
    assert p.window_end.isoformat() == "2026-01-01T02:00:00+00:00"
    assert p.top_fault == "normal"


def test_rules_raise_alerts_that_deduplicate_while_open(db: Database, tmp_path: Path) -> None:
    register_fixed(db, tmp_path, rul_scale=1.0, anomaly=7.0, fault=0.9)
    make_fleet(db, [5, 80])  # pump-00 near end of life; both anomalous and faulty
    settings = settings_for(tmp_path, rul_threshold=30, anomaly_thresholds={"test-fixed": 5.0})
    result = run_scoring(settings, db, ScoreRequest(MODEL))
    with db.session() as s:
        rules = sorted((a.asset_id, a.rule, a.severity) for a in s.scalars(select(Alert)))
    assert rules == [(1, "anomaly_high", "warning"), (1, "fault_probable", "warning"), (1, "rul_low", "critical"),
                     (2, "anomaly_high", "warning"), (2, "fault_probable", "warning")]
    assert len(result.new_alerts) == 5
    with db.session() as s:
        acknowledge_alert(s, result.new_alerts[0], "anna")
    add_readings(db, "pump-00", [4.0], start_hour=50)
    again = run_scoring(settings, db, ScoreRequest(MODEL))
    assert again.new_alerts == () and len(again.refreshed_alerts) == 3
    with db.session() as s:
        first = s.get(Alert, result.new_alerts[0])
        assert (first.status, first.occurrences, first.acknowledged_by) == ("acknowledged", 2, "anna")
    assert count(db, Alert) == 5


def test_a_failure_while_writing_leaves_no_partial_writes(db: Database, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    register_fixed(db, tmp_path, rul_scale=1.0)
    make_fleet(db, [5, 6, 7])
    settings = settings_for(tmp_path)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(score_job, "raise_alert", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_scoring(settings, db, ScoreRequest(MODEL))
    assert (count(db, Prediction), count(db, Alert)) == (0, 0)
    monkeypatch.undo()
    result = run_scoring(settings, db, ScoreRequest(MODEL))
    assert (result.predictions, len(result.new_alerts)) == (3, 3)


def test_unknown_model_says_what_is_registered(db: Database, tmp_path: Path) -> None:
    register_fixed(db, tmp_path, name="baseline-pumps")
    with pytest.raises(ConfigError, match=r"No model named 'plantpulse-student' is registered. Registered: baseline-pumps"):
        run_scoring(settings_for(tmp_path), db, ScoreRequest(MODEL))


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Receiver.received.append((self.headers.get("Authorization", ""), body))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def test_new_alerts_become_work_orders_in_csv_and_webhook(db: Database, tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        register_fixed(db, tmp_path, rul_scale=1.0)
        make_fleet(db, [5])
        settings = settings_for(tmp_path, webhook_url=f"http://127.0.0.1:{server.server_port}/orders",
                                webhook_token=SecretStr("t0ken"), workorder_dir=str(tmp_path / "wo"))
        result = run_scoring(settings, db, ScoreRequest(MODEL))
    finally:
        server.shutdown()
        thread.join(5)
    assert result.workorders == 1
    [path] = (tmp_path / "wo").glob("workorders-*.csv")
    [row] = list(csv.DictReader(path.open()))
    assert (row["asset"], row["rule"], row["severity"]) == ("pump-00", "rul_low", "critical")
    assert row["finding"].startswith("pump-00: remaining useful life 5 (80 % interval 4-6)")
    assert json.loads(row["evidence"])["rul_mean"] == 5.0 and "Plan maintenance" in row["recommended_action"]
    [(auth, body)] = _Receiver.received
    assert auth == "Bearer t0ken" and body["alert_id"] == int(row["alert_id"]) and body["evidence"]["threshold"] == 30
