"""``plantpulse scheduler``: the long-running service that runs jobs on a cron-like schedule.

Jobs (``SCHEDULED_JOBS``): ``score`` (the scoring job, ``scheduler.score_cron``) and, when a
drop folder is configured, ``ingest`` (sensor files from ``scheduler.ingest_dir``). Every run is
a leased ``job_runs`` row (see :mod:`plantpulse.pipelines.runtime.leases`): no two runs of a job overlap,
in this process (APScheduler ``max_instances=1``) or across processes and hosts (the lease).
A failed run is retried ``scheduler.retries`` times with exponential backoff. The service
touches ``<home>/scheduler.alive`` every ``heartbeat_s`` so ``scheduler --check`` can tell it is
alive.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.registry import Registry
from plantpulse.data.core.times import utcnow
from plantpulse.data.store.db import Database
from plantpulse.data.store.db_errors import DATABASE_ERRORS, describe
from plantpulse.pipelines.runtime.leases import JobBusyError, RunOutcome, run_job

log = logging.getLogger(__name__)

Work = Callable[[Settings, Database], tuple[int, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    when: Callable[[Settings], str | float | None]  # crontab, seconds between runs, or None: off
    work: Work


def _score(settings: Settings, db: Database) -> tuple[int, dict[str, Any]]:
    from plantpulse.pipelines.score.job import request_from, run_scoring

    result = run_scoring(settings, db, request_from(settings))
    return result.predictions, {"model": result.model, "considered": result.considered,
                                "new_alerts": list(result.new_alerts), "workorders": result.workorders}


def _ingest(settings: Settings, db: Database) -> tuple[int, dict[str, Any]]:
    """Ingest every sensor file in the drop folder; move it to done/ or failed/ afterwards."""
    from plantpulse.pipelines.ingest.entry import IngestFailedError, ingest_sensor_file

    folder = settings.scheduler.ingest_dir
    assert folder is not None
    loaded, files, failed = 0, [], []
    patterns = settings.scheduler.ingest_patterns
    for path in sorted(p for p in folder.iterdir()
                       if p.is_file() and any(fnmatch(p.name.lower(), pattern.lower()) for pattern in patterns)):
        try:
            result = ingest_sensor_file(db, path, create_assets=True,
                                        asset_type=settings.scheduler.ingest_asset_type,
                                        max_upload_mb=settings.ingest.max_upload_mb)
        except (IngestFailedError, ValueError) as err:
            failed.append(path.name)
            _move(path, folder / "failed")
            (folder / "failed" / f"{path.name}.error.txt").write_text(f"{err}\n", encoding="utf-8")
            continue
        loaded += result.loaded
        files.append(path.name)
        _move(path, folder / "done")
    return loaded, {"files": files, "failed": failed}


def _move(path: Path, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    shutil.move(str(path), folder / f"{stamp}-{path.name}")


SCHEDULED_JOBS: Registry[JobSpec] = Registry("scheduled job")
SCHEDULED_JOBS.add("score", JobSpec("score", lambda s: s.scheduler.score_every_s or s.scheduler.score_cron, _score))
SCHEDULED_JOBS.add("ingest", JobSpec("ingest", lambda s: s.scheduler.ingest_cron if s.scheduler.ingest_dir else None,
                                     _ingest))


class Scheduler:
    """Runs ``SCHEDULED_JOBS`` on their schedules until :meth:`stop`."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.stopping = threading.Event()
        self._aps: BackgroundScheduler | None = None

    @property
    def alive_file(self) -> Path:
        return self.settings.home / "scheduler.alive"

    def run_once(self, name: str, trigger: str = "schedule") -> RunOutcome | None:
        """One run of job ``name`` with retries; None when another run holds the lease or we stop."""
        spec = SCHEDULED_JOBS.get(name)
        s = self.settings.scheduler
        for attempt in range(s.retries + 1):
            try:
                return run_job(self.db, name, lambda: spec.work(self.settings, self.db), s.lease_s, s.heartbeat_s,
                               {"trigger": trigger, "attempt": attempt + 1})
            except JobBusyError as err:
                log.info("Skipping this run: %s", err)
                return None
            except Exception as err:  # recorded as a failed run by run_job; retry unless it was the last
                reason = self._reason(err)
                if attempt == s.retries:
                    log.error("Job %s failed %d times (%s); next try at its next scheduled time.", name,
                              attempt + 1, reason)
                    return None
                delay = s.retry_backoff_s * 2**attempt
                log.warning("Job %s failed (attempt %d of %d: %s); retrying in %.0f s.", name, attempt + 1,
                            s.retries + 1, reason, delay)
                if self.stopping.wait(delay):
                    return None
        return None

    def _reason(self, err: BaseException) -> str:
        """Why a run failed, in one line (a database failure names the database and the fix)."""
        if isinstance(err, DATABASE_ERRORS):
            return describe(err, self.db.url, self.db.timeouts)
        return f"{type(err).__name__}: {err}".splitlines()[0]

    def _alive(self) -> None:
        self.alive_file.parent.mkdir(parents=True, exist_ok=True)
        self.alive_file.write_text(utcnow().isoformat() + "\n", encoding="utf-8")

    def start(self) -> list[str]:
        """Schedule every job that is configured; returns their names."""
        aps = BackgroundScheduler(timezone=self.settings.timezone)
        names = []
        for name in SCHEDULED_JOBS.names():
            when = SCHEDULED_JOBS.get(name).when(self.settings)
            if when is None:
                continue
            trigger = (IntervalTrigger(seconds=when) if isinstance(when, float)
                       else CronTrigger.from_crontab(when, timezone=self.settings.timezone))
            aps.add_job(self.run_once, trigger, args=[name], id=name, max_instances=1, coalesce=True,
                        misfire_grace_time=int(self.settings.scheduler.misfire_grace_s))
            names.append(f"{name} (every {when:g} s)" if isinstance(when, float) else f"{name} ({when})")
        aps.add_job(self._alive, "interval", seconds=self.settings.scheduler.heartbeat_s, id="alive",
                    next_run_time=utcnow())
        aps.start()
        self._aps = aps
        return names

    def stop(self) -> None:
        self.stopping.set()
        if self._aps is not None:
            self._aps.shutdown(wait=True)
            self._aps = None
