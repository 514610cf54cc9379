"""Run-now for scheduled jobs: start ``plantpulse scheduler --once JOB`` as its own process.

Long work never runs inside a Streamlit session: the dashboard starts the job in a separate
process (its own session group, output in ``<home>/logs``) and returns at once. The job runs
exactly as a scheduled run would: leased in ``job_runs`` (so it never overlaps another run of
the same job, in any process), with the configured retries; the Jobs page shows its progress.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import PlantPulseError

DESCRIPTIONS = {"score": "Score assets with new data, raise alerts, write work orders.",
                "ingest": "Ingest the sensor files waiting in the drop folder."}


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    name: str
    when: str | float | None  # crontab (plant time), seconds between runs, or None: not scheduled
    description: str


class JobBusyError(PlantPulseError):
    """The job is already running; a second run would overlap it."""


def scheduled_jobs(settings: Settings) -> list[ScheduledJob]:
    """The scheduler's jobs and when each runs under these settings."""
    from plantpulse.pipelines.runtime.scheduler import SCHEDULED_JOBS

    return [ScheduledJob(name, SCHEDULED_JOBS.get(name).when(settings), DESCRIPTIONS.get(name, ""))
            for name in SCHEDULED_JOBS.names()]


def heartbeat(settings: Settings) -> datetime | None:
    """When the scheduler service last said it was alive (None: never, on this home folder)."""
    path = settings.home / "scheduler.alive"
    try:
        return datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def command(job: str) -> list[str]:
    return [sys.executable, "-m", "plantpulse.pipelines.cli.main", "scheduler", "--once", job]


def launch(settings: Settings, job: ScheduledJob, running: bool) -> Path:
    """Start one run of ``job`` detached; returns its log file. Refuses while a run is going."""
    if running:
        msg = f"Job '{job.name}' is already running; wait for it to finish (see the history below)."
        raise JobBusyError(msg)
    if job.when is None:
        msg = f"Job '{job.name}' is not configured here (see docs/dashboard.md for its settings)."
        raise PlantPulseError(msg)
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{job.name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.log"
    env = dict(os.environ)
    env["PLANTPULSE_HOME"] = str(settings.home.resolve())
    env["PLANTPULSE_DATABASE_URL"] = settings.db_url
    with log_path.open("ab") as out:
        subprocess.Popen(
            command(job.name), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True, close_fds=True)
    return log_path
