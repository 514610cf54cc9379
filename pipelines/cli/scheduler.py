"""``plantpulse scheduler`` (the service, a health check, one run now) and ``plantpulse jobs``."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import datetime

import click

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.times import utcnow
from plantpulse.data.store.db import open_database

log = logging.getLogger("plantpulse.scheduler")


def _check(settings: Settings) -> None:
    from plantpulse.pipelines.runtime.scheduler import Scheduler

    open_database(settings).require_current()
    alive = Scheduler(settings, open_database(settings)).alive_file
    if not alive.exists():
        raise click.ClickException(f"No scheduler heartbeat at {alive}: the scheduler is not running here.")
    age = (utcnow() - datetime.fromisoformat(alive.read_text().strip())).total_seconds()
    limit = 3 * settings.scheduler.heartbeat_s
    if age > limit:
        raise click.ClickException(f"Scheduler heartbeat is {age:.0f} s old (limit {limit:.0f} s): it is stuck or gone.")
    click.echo(f"scheduler alive (heartbeat {age:.0f} s ago), database schema current")


@click.command("scheduler")
@click.option("--check", is_flag=True, help="Health check: exit 0 when the scheduler here is alive.")
@click.option("--once", "once", default=None, metavar="JOB", help="Run one job now (with retries) and exit.")
@click.pass_obj
def scheduler(settings: Settings, check: bool, once: str | None) -> None:
    """Run the scheduled jobs (scoring; ingest of a drop folder) until SIGTERM/SIGINT."""
    from plantpulse.pipelines.runtime.scheduler import Scheduler

    if check:
        _check(settings)
        return
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job execution otherwise
    db = open_database(settings)
    db.require_current()
    service = Scheduler(settings, db)
    if once is not None:
        outcome = service.run_once(once, trigger="cli")
        if outcome is None:
            raise click.ClickException(f"Job {once} did not complete (busy elsewhere, or failed: see `plantpulse jobs`).")
        click.echo(f"run {outcome.run_id} of {once}: {outcome.status}, {outcome.rows} rows")
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    names = service.start()
    log.info("Scheduler started (time zone %s): %s.", settings.timezone, ", ".join(names) or "no jobs")
    try:
        stop.wait()
    finally:
        log.info("Stopping the scheduler (waiting for a running job to end).")
        service.stop()
    sys.stdout.flush()


@click.command("jobs")
@click.option("--job", default=None, help="Only this job (score, ingest).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.pass_obj
def jobs(settings: Settings, job: str | None, limit: int) -> None:
    """The job history: newest runs first, with status, rows and error."""
    from plantpulse.pipelines.runtime.leases import recent_runs

    for run in recent_runs(open_database(settings), job, limit):
        took = f"{(run.finished_at - run.started_at).total_seconds():.1f} s" if run.finished_at else "-"
        line = (f"#{run.id} {run.job:<8} {run.status:<10} {run.started_at:%Y-%m-%d %H:%M:%S} {took:>9} "
                f"rows={run.rows}")
        click.echo(line + (f"  {run.error}" if run.error else ""))
