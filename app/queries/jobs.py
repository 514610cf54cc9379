"""Job history (``job_runs``) and the scoring schedule."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from plantpulse.app.queries.sql import database
from plantpulse.data.store.schema import JobRun

RUNNING = ("running", "queued")


@st.cache_data(ttl=5, show_spinner=False)
def runs(url: str, limit: int = 300, job: str | None = None, prefix: str | None = None) -> pd.DataFrame:
    """The newest job runs (of one ``job``, or of the jobs whose name starts with ``prefix``)."""
    query = (select(JobRun.id, JobRun.job, JobRun.status, JobRun.started_at, JobRun.finished_at,
                    JobRun.rows, JobRun.error, JobRun.details)
             .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit))
    if job is not None:
        query = query.where(JobRun.job == job)
    if prefix is not None:
        query = query.where(JobRun.job.startswith(prefix, autoescape=True))
    with database(url).session() as session:
        return pd.DataFrame(session.execute(query).mappings().all(),
                            columns=["id", "job", "status", "started_at", "finished_at", "rows",
                                     "error", "details"])


@st.cache_data(ttl=5, show_spinner=False)
def last_per_job(url: str) -> pd.DataFrame:
    """Each job's newest run and how many runs it has had."""
    newest = (select(JobRun.job, func.max(JobRun.id).label("id"), func.count().label("count"))
              .group_by(JobRun.job).subquery())
    query = (select(JobRun.job, JobRun.status, JobRun.started_at, JobRun.finished_at, JobRun.rows,
                    JobRun.error, newest.c.count)
             .join(newest, newest.c.id == JobRun.id).order_by(JobRun.job))
    with database(url).session() as session:
        return pd.DataFrame(session.execute(query).mappings().all(),
                            columns=["job", "status", "started_at", "finished_at", "rows", "error", "count"])


def next_runs(cron: str, zone_name: str, now: datetime, count: int = 3) -> list[datetime]:
    """The next ``count`` times a crontab fires, in the plant's time zone."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(cron, timezone=ZoneInfo(zone_name))
    out: list[datetime] = []
    previous = None
    current = now.astimezone(ZoneInfo(zone_name))
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, current)
        if fire is None:
            break
        out.append(fire)
        previous, current = fire, fire
    return out


def clear() -> None:
    runs.clear()
    last_per_job.clear()
