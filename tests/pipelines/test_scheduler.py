"""Job runs with a database lease, retries with backoff, and the scheduler service."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from scoring_support import make_fleet, register_fixed
from sqlalchemy import select

from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.core.times import utcnow
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import JobRun
from plantpulse.pipelines.runtime.leases import JobBusyError, finish_run, run_job, start_run
from plantpulse.pipelines.runtime.scheduler import SCHEDULED_JOBS, JobSpec, Scheduler


def test_a_live_lease_blocks_a_second_run(database: Database) -> None:
    lease = start_run(database, "score", lease_s=60)
    with pytest.raises(JobBusyError, match=r"Job 'score' is already running \(run \d+ on .*lease until"):
        start_run(database, "score", lease_s=60)
    start_run(database, "ingest", lease_s=60)  # other jobs are independent
    finish_run(database, lease, "succeeded", rows=3)
    start_run(database, "score", lease_s=60)


def test_an_expired_lease_is_abandoned_by_the_next_run(database: Database) -> None:
    stale = start_run(database, "score", lease_s=0.01)
    time.sleep(0.05)
    start_run(database, "score", lease_s=60)
    with database.session() as s:
        run = s.get(JobRun, stale.run_id)
        assert run.status == "abandoned" and "lease expired" in run.error


def test_failures_are_recorded_with_their_error(database: Database) -> None:
    def boom() -> tuple[int, dict]:
        raise ValueError("model file is corrupt")

    with pytest.raises(ValueError, match="corrupt"):
        run_job(database, "score", boom, lease_s=60, heartbeat_s=10)
    with database.session() as s:
        run = s.scalar(select(JobRun))
    assert (run.status, run.error) == ("failed", "ValueError: model file is corrupt")
    assert run.finished_at is not None and run.details["lease_until"] is None


def test_heartbeat_keeps_the_lease_alive(database: Database) -> None:
    def slow() -> tuple[int, dict]:
        time.sleep(0.6)
        with pytest.raises(JobBusyError):
            start_run(database, "score", lease_s=0.3)
        return 1, {}

    outcome = run_job(database, "score", slow, lease_s=0.3, heartbeat_s=0.05)
    assert outcome.status == "succeeded"


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []

    def work(settings, db) -> tuple[int, dict]:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("database restarting")
        return 7, {"ok": True}

    monkeypatch.setattr(SCHEDULED_JOBS, "_items", SCHEDULED_JOBS._items | {"flaky": JobSpec("flaky", lambda s: None, work)})
    return calls


def test_retries_with_backoff_until_success(tmp_path: Path, flaky: list[int]) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.upgrade()
    settings = load_settings(env={}, home=str(tmp_path), scheduler={"retries": 3, "retry_backoff_s": 0.01})
    outcome = Scheduler(settings, db).run_once("flaky")
    assert outcome is not None and (outcome.status, outcome.rows) == ("succeeded", 7)
    with db.session() as s:
        statuses = [r.status for r in s.scalars(select(JobRun).order_by(JobRun.id))]
    assert statuses == ["failed", "failed", "succeeded"] and len(flaky) == 3


def test_gives_up_after_the_last_retry(tmp_path: Path, flaky: list[int]) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.upgrade()
    settings = load_settings(env={}, home=str(tmp_path), scheduler={"retries": 1, "retry_backoff_s": 0.0})
    assert Scheduler(settings, db).run_once("flaky") is None and len(flaky) == 2


def test_the_service_scores_on_its_schedule_and_reports_alive(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.upgrade()
    register_fixed(db, tmp_path, rul_scale=1.0)
    make_fleet(db, [5, 50])
    settings = load_settings(env={}, home=str(tmp_path / "home"),
                             scheduler={"score_every_s": 0.5, "heartbeat_s": 0.2})
    service = Scheduler(settings, db)
    assert service.start() == ["score (every 0.5 s)"]
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with db.session() as s:
                if s.scalar(select(JobRun).where(JobRun.status == "succeeded")) is not None:
                    break
            time.sleep(0.1)
    finally:
        service.stop()
    with db.session() as s:
        runs = list(s.scalars(select(JobRun)))
    assert runs and runs[0].job == "score" and runs[0].rows == 2
    assert all(r.status != "running" for r in runs)
    alive = service.alive_file.read_text().strip()
    assert utcnow() - datetime.fromisoformat(alive) < timedelta(seconds=30)


def test_ingest_job_takes_files_from_the_drop_folder(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.upgrade()
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "press.csv").write_text("asset,timestamp,pressure\npress-07,2026-03-01T00:00:00Z,101.5\n"
                                    "press-07,2026-03-01T00:01:00Z,102.0\n")
    (drop / "broken.csv").write_text("no,useful,header\n1,2,3\n")
    (drop / "notes.txt").write_text("not a sensor file")
    settings = load_settings(env={}, home=str(tmp_path), scheduler={"ingest_dir": str(drop)})
    outcome = Scheduler(settings, db).run_once("ingest")
    assert outcome is not None and outcome.rows == 2
    assert outcome.details == {"files": ["press.csv"], "failed": ["broken.csv"]}
    assert [p.name.split("-", 1)[1] for p in (drop / "done").iterdir()] == ["press.csv"]
    assert (drop / "notes.txt").exists()
    errors = list((drop / "failed").glob("*.error.txt"))
    assert len(errors) == 1 and errors[0].read_text().strip()
