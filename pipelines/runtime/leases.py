"""Job runs with a database lease: one run of a job at a time, across processes and hosts.

``start_run`` opens a ``job_runs`` row (status ``running``) inside a serialised transaction
(``BEGIN IMMEDIATE`` on SQLite, a self-conflicting table lock on PostgreSQL), after checking that
no other run of the job holds an unexpired lease. A running job renews its lease (heartbeat);
a run whose lease expired (its process was killed or hung) is marked ``abandoned`` by the next
one. Statuses: running, succeeded, failed, abandoned, skipped. Recording a failure never raises:
when the database is gone the run's lease simply expires, and the original error is what is raised.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from plantpulse.data.core.errors import PlantPulseError
from plantpulse.data.core.times import utcnow
from plantpulse.data.store.db import Database
from plantpulse.data.store.db_errors import brief
from plantpulse.data.store.schema import JobRun

log = logging.getLogger(__name__)

STATUSES = ("running", "succeeded", "failed", "abandoned", "skipped")


class JobBusyError(PlantPulseError):
    """Another process is running this job right now."""


@dataclass(frozen=True, slots=True)
class Lease:
    run_id: int
    job: str
    owner: str


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _lease_until(run: JobRun) -> datetime | None:
    value = (run.details or {}).get("lease_until")
    return datetime.fromisoformat(value) if value else None


@contextmanager
def _serialised(db: Database) -> Iterator[Session]:
    """A session whose transaction excludes every other job-run transaction until commit."""
    with db.engine.connect() as conn:
        _lock(conn)
        session = Session(bind=conn, expire_on_commit=False)
        try:
            yield session
            session.flush()
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            session.close()


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE job_runs IN SHARE ROW EXCLUSIVE MODE")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def start_run(db: Database, job: str, lease_s: float, details: dict[str, Any] | None = None) -> Lease:
    """Open a run of ``job``; :class:`JobBusyError` when a live run holds the lease."""
    owner = owner_name()
    now = utcnow()
    with _serialised(db) as session:
        for run in session.scalars(select(JobRun).where(JobRun.job == job, JobRun.status == "running")):
            until = _lease_until(run)
            if until is not None and until > now:
                msg = (f"Job {job!r} is already running (run {run.id} on {run.details.get('owner', '?')}, "
                       f"started {run.started_at:%Y-%m-%d %H:%M:%S} UTC, lease until {until:%H:%M:%S}). "
                       "Wait for it, or for its lease to expire if that process is gone.")
                raise JobBusyError(msg)
            run.status, run.finished_at = "abandoned", now
            run.error = ("lease expired: the process running it stopped without finishing (killed, crashed "
                         "or hung); its database writes were rolled back")
            log.warning("Run %d of job %s was abandoned by %s; taking over.", run.id, job,
                        (run.details or {}).get("owner"))
        run = JobRun(job=job, status="running", started_at=now, rows=0,
                     details={**(details or {}), "owner": owner,
                              "lease_until": (now + timedelta(seconds=lease_s)).isoformat()})
        session.add(run)
        session.flush()
        return Lease(run.id, job, owner)


def renew(db: Database, lease: Lease, lease_s: float) -> None:
    # serialised like update_details: both rewrite the whole details JSON, so neither may lose the other's keys
    with _serialised(db) as session:
        run = session.get(JobRun, lease.run_id)
        if run is not None and run.status == "running":
            run.details = {**run.details, "lease_until": (utcnow() + timedelta(seconds=lease_s)).isoformat()}


def update_details(db: Database, lease: Lease, details: dict[str, Any]) -> None:
    """Merge ``details`` into the running run's ``details`` (progress a page reload can show)."""
    with _serialised(db) as session:
        run = session.get(JobRun, lease.run_id)
        if run is not None and run.status == "running":
            run.details = {**run.details, **details}


def finish_run(db: Database, lease: Lease, status: str, rows: int = 0, error: str | None = None,
               details: dict[str, Any] | None = None) -> None:
    with db.session() as session:
        run = session.get(JobRun, lease.run_id)
        if run is None:
            return
        run.status, run.finished_at, run.rows = status, utcnow(), rows
        run.error = error[:4000] if error else None
        run.details = {**run.details, **(details or {}), "lease_until": None}


@contextmanager
def heartbeat(db: Database, lease: Lease, lease_s: float, every_s: float) -> Iterator[None]:
    """Renew ``lease`` every ``every_s`` seconds in a background thread while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                renew(db, lease, lease_s)
            except Exception as err:  # the database may be briefly away; the next beat retries
                log.warning("Could not renew the lease of run %d: %s", lease.run_id, brief(err))

    thread = threading.Thread(target=beat, name=f"lease-{lease.run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def _record_failed(db: Database, lease: Lease, text: str) -> None:
    """Mark the run failed; never raises, so the job's own error is the one reported."""
    try:
        finish_run(db, lease, "failed", error=text)
    except Exception as err:  # a failure handler must not replace the failure
        log.warning("Could not record run %d of job %s as failed (%s); its lease will expire.",
                    lease.run_id, lease.job, brief(err))


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run_id: int
    status: str
    rows: int
    error: str | None
    details: dict[str, Any]


@contextmanager
def leased(db: Database, job: str, lease_s: float, heartbeat_s: float,
           details: dict[str, Any] | None = None) -> Iterator[Lease]:
    """One leased run of ``job`` around the block, its lease renewed meanwhile; an exception marks the
    run failed (with the error) and is raised again. The caller finishes a successful run."""
    lease = start_run(db, job, lease_s, details)
    try:
        with heartbeat(db, lease, lease_s, heartbeat_s):
            yield lease
    except Exception as err:
        text = f"{type(err).__name__}: {err}"
        log.error("Run %d of job %s failed: %s", lease.run_id, job, brief(err))
        _record_failed(db, lease, text)
        raise


def run_job(db: Database, job: str, work: Callable[[], tuple[int, dict[str, Any]]], lease_s: float,
            heartbeat_s: float, details: dict[str, Any] | None = None) -> RunOutcome:
    """Run ``work`` (returning rows and details) as one leased, recorded run of ``job``."""
    with leased(db, job, lease_s, heartbeat_s, details) as lease:
        rows, extra = work()
    finish_run(db, lease, "succeeded", rows, details=extra)
    return RunOutcome(lease.run_id, "succeeded", rows, None, extra)


def recent_runs(db: Database, job: str | None = None, limit: int = 20) -> list[JobRun]:
    with db.session() as session:
        query = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
        if job is not None:
            query = query.where(JobRun.job == job)
        return list(session.scalars(query))
