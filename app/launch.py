"""Long work started from the dashboard, each as its own detached process.

Long work never runs inside a Streamlit session: the dashboard starts a separate process (its own
session group, output in a log file) and returns at once. Run-now starts ``plantpulse scheduler
--once JOB``, exactly as a scheduled run (leased in ``job_runs``, so it never overlaps another run
of the same job in any process, with the configured retries; log in ``<home>/logs``). A training
run writes its spec to ``<home>/fits/<name>-<stamp>/spec.toml`` and starts ``plantpulse fit --spec
… --out <that folder>/report`` (leased as ``fit:<name>``; log ``fit.log`` in that folder).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import PlantPulseError
from plantpulse.pipelines.fit.job import model_name
from plantpulse.pipelines.fit.spec import FitSpec, spec_toml

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


def fit_command(spec_path: Path, report_dir: Path) -> list[str]:
    return [sys.executable, "-m", "plantpulse.pipelines.cli.main", "fit", "--spec", str(spec_path),
            "--out", str(report_dir), "--quiet"]


STARTING_S = 60.0  # a fit process opens its job row within seconds; until then its folder says it is coming


def _starting(fits: Path, name: str, now: float | None = None) -> tuple[Path, float] | None:
    """A fit of ``name`` started less than STARTING_S ago that has neither written its report nor
    failed (its log names the error): the window between the click and the fit's own job row, in
    which the lease cannot refuse a second start yet."""
    now = time.time() if now is None else now
    for folder in sorted(fits.glob(f"{name}-*"), reverse=True):
        age = now - folder.stat().st_mtime
        if age >= STARTING_S or not folder.is_dir():
            continue
        log = folder / "fit.log"
        failed = log.is_file() and "error" in log.read_text(encoding="utf-8", errors="replace").lower()
        if not (folder / "report" / "fit-report.json").is_file() and not failed:
            return folder, age
    return None


def _stamp() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


def _detached(settings: Settings, argv: list[str], log_path: Path) -> None:
    """Start ``argv`` in its own session with this home and database; output to ``log_path``."""
    env = dict(os.environ)
    env["PLANTPULSE_HOME"] = str(settings.home.resolve())
    env["PLANTPULSE_DATABASE_URL"] = settings.db_url
    with log_path.open("ab") as out:
        subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         env=env, start_new_session=True, close_fds=True)


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
    log_path = logs / f"{job.name}-{_stamp()}.log"
    _detached(settings, command(job.name), log_path)
    return log_path


def start_fit(settings: Settings, spec: FitSpec, running: bool, files: dict[str, bytes] | None = None) -> Path:
    """Write ``spec`` (and its label ``files``, by the names the spec gives them) to a new folder
    ``<home>/fits/<name>-<stamp>/`` and start ``plantpulse fit`` on it detached; returns the folder.
    Refuses while a fit of the same name runs (the fit's lease would refuse it too)."""
    name = model_name(spec)
    if running:
        raise JobBusyError(f"A fit of {name} is already running; wait for it to finish (see the runs below).")
    starting = _starting(settings.home / "fits", name)
    if starting is not None:
        raise JobBusyError(f"A fit of {name} was started {starting[1]:.0f} s ago ({starting[0].name}) and is still "
                           "starting; it appears in the runs below once it has opened its job row.")
    folder = settings.home / "fits" / f"{name}-{_stamp()}"
    try:
        folder.mkdir(parents=True)
    except FileExistsError as err:
        raise JobBusyError(f"A fit of {name} was started this very second ({folder}); wait for it.") from err
    for file_name, data in (files or {}).items():
        (folder / file_name).write_bytes(data)
    spec_path = folder / "spec.toml"
    spec_path.write_text(spec_toml(spec), encoding="utf-8")
    _detached(settings, fit_command(spec_path, folder / "report"), folder / "fit.log")
    return folder
