"""A scoring process killed mid-run leaves nothing behind, and the next run picks up correctly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scoring_support import MODEL, make_fleet, register_fixed
from sqlalchemy import func, select

from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import Alert, JobRun, Prediction
from plantpulse.pipelines.runtime.leases import JobBusyError, run_job
from plantpulse.pipelines.score.job import ScoreRequest, run_scoring

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RUNNER = Path(__file__).resolve().parent / "score_runner.py"


def start_scoring(tmp_path: Path, db_url: str, lease_s: float) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTPULSE_")} | {
        "PLANTPULSE_SCHEDULER__LEASE_S": str(lease_s), "PLANTPULSE_SCHEDULER__HEARTBEAT_S": "0.5"}
    cmd = [sys.executable, str(RUNNER), "--db", db_url, "--home", str(tmp_path / "home"), "score", "--batch-size", "1"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def counts(db: Database) -> tuple[int, int]:
    with db.session() as s:
        return (s.scalar(select(func.count()).select_from(Prediction)),
                s.scalar(select(func.count()).select_from(Alert)))


def running(db: Database) -> JobRun | None:
    with db.session() as s:
        return s.scalar(select(JobRun).where(JobRun.status == "running"))


def test_killed_scoring_writes_nothing_and_the_next_run_scores_everything(database: Database,
                                                                          tmp_path: Path) -> None:
    register_fixed(database, tmp_path, rul_scale=1.0, sleep_s=0.25)  # 12 assets, one per predict: ~3 s
    make_fleet(database, [5.0 + i for i in range(12)])
    proc = start_scoring(tmp_path, database.url, lease_s=3.0)
    try:
        deadline = time.monotonic() + 60
        while running(database) is None:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "the scoring run never started"
            time.sleep(0.05)
        time.sleep(1.5)  # well inside the run: some windows predicted, none committed
        settings = load_settings(env={}, home=str(tmp_path / "home"))
        with pytest.raises(JobBusyError, match="already running"):  # no overlap across processes
            run_job(database, "score", lambda: (0, {}), lease_s=60, heartbeat_s=10)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert counts(database) == (0, 0), "a killed run must leave no partial writes"
    killed = running(database)
    assert killed is not None
    time.sleep(3.5)  # its lease runs out: nobody renews it any more
    outcome = run_job(database, "score", lambda: (run_scoring(settings, database, ScoreRequest(MODEL)).predictions,
                                                  {}), lease_s=60, heartbeat_s=10)
    assert outcome.rows == 12 and counts(database) == (12, 12)
    with database.session() as s:
        assert s.get(JobRun, killed.id).status == "abandoned"
    assert run_scoring(settings, database, ScoreRequest(MODEL)).considered == 0
