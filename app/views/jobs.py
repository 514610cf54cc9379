"""Jobs: the schedule, the history of every run, run-now (which starts the job's own
process; nothing long runs inside the dashboard), and the work orders not yet delivered."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from plantpulse.app import launch
from plantpulse.app.context import AppContext
from plantpulse.app.queries import jobs as q
from plantpulse.app.queries import workorders as wo
from plantpulse.app.widgets import charts, components
from plantpulse.app.widgets.timefmt import format_age, format_ts, to_local_naive


def _when(job: launch.ScheduledJob, zone: str) -> tuple[str, str]:
    """(schedule, next runs) as people read them."""
    if job.when is None:
        return "not configured", "—"
    if isinstance(job.when, float):
        return f"every {job.when:g} s", "—"
    try:
        upcoming = q.next_runs(job.when, zone, datetime.now(UTC))
    except ValueError as err:
        return job.when, f"cannot read the crontab: {err}"
    return f"{job.when} (cron, plant time)", ", ".join(format_ts(t, zone) for t in upcoming)


def schedule(ctx: AppContext, jobs: list[launch.ScheduledJob]) -> None:
    beat = launch.heartbeat(ctx.settings)
    limit = 3 * ctx.settings.scheduler.heartbeat_s
    alive = beat is not None and (datetime.now(UTC) - beat).total_seconds() <= limit
    if alive:
        st.success(f"The scheduler is running (last heartbeat {format_age(beat)}).", icon=":material/schedule:")
    else:
        st.warning("No scheduler is running for this PlantPulse home"
                   + (f" (last heartbeat {format_age(beat)})" if beat else "")
                   + ": scheduled jobs will not run until `plantpulse scheduler` is started.",
                   icon=":material/warning:")
    cfg = ctx.settings.scheduler
    rows = [(job.name, *_when(job, ctx.zone), job.description) for job in jobs]
    st.dataframe(pd.DataFrame(rows, columns=["job", "schedule", "next runs", "does"]),
                 hide_index=True, width="stretch")
    st.caption(f"A failed run is retried {cfg.retries} times, the first after {cfg.retry_backoff_s:g} s "
               "(doubling). Change schedules with PLANTPULSE_SCHEDULER__… variables or [scheduler] in "
               "plantpulse.toml.")


def _run_now(ctx: AppContext, job: launch.ScheduledJob, running: bool) -> str:
    path = launch.launch(ctx.settings, job, running)
    q.clear()
    return f"Started `plantpulse scheduler --once {job.name}` in its own process; output: {path}."


def run_now(ctx: AppContext, jobs: list[launch.ScheduledJob], latest: pd.DataFrame) -> None:
    status = dict(zip(latest["job"], latest["status"], strict=True)) if len(latest) else {}
    for job in jobs:
        left, right = st.columns([4, 1], vertical_alignment="center")
        running = status.get(job.name) in q.RUNNING
        left.markdown(f"**{job.name}** — {job.description}" + (" :blue[(running)]" if running else ""))
        if job.when is None:
            right.caption("not configured")
        elif ctx.user.can_write:
            right.button("Run now", key=f"run-{job.name}", icon=":material/play_arrow:",
                         disabled=running, on_click=components.guarded,
                         args=("run jobs", ctx, lambda j=job, r=running: _run_now(ctx, j, r)))


def history(ctx: AppContext) -> None:
    frame = q.runs(ctx.url)
    if frame.empty:
        components.empty("No job has run yet.", "plantpulse scheduler")
        return
    now = pd.Timestamp.now(tz="UTC")
    chart = frame.assign(start=to_local_naive(frame["started_at"], ctx.zone).to_numpy(),
                         end=to_local_naive(frame["finished_at"].fillna(now), ctx.zone).to_numpy())
    st.altair_chart(charts.job_history(chart, ctx.zone), width="stretch")
    duration = (pd.to_datetime(frame["finished_at"], utc=True) - pd.to_datetime(frame["started_at"], utc=True))
    table = pd.DataFrame({
        "job": frame["job"], "status": frame["status"],
        "started": [format_ts(t, ctx.zone, seconds=True) for t in frame["started_at"]],
        "duration": [f"{d.total_seconds():,.1f} s" if pd.notna(d) else "running" for d in duration],
        "rows": frame["rows"], "error": frame["error"].fillna(""),
    })
    st.dataframe(table, hide_index=True, width="stretch", height=min(38 + 35 * len(table), 420),
                 column_config={"error": st.column_config.TextColumn("error", width="large")})


def workorders(ctx: AppContext) -> None:
    """Delivery of work orders to the webhook: counts, and those still waiting or refused."""
    counts = wo.counts(ctx.url)
    if not counts:
        where = "the webhook at alerts.webhook_url" if ctx.settings.alerts.webhook_url else (
            "the CSV folder only: no webhook is configured (alerts.webhook_url)")
        st.caption(f"No work order has gone to a webhook yet. New alerts' work orders go to {where}.")
        return
    cols = st.columns(3)
    for col, (status, label) in zip(cols, (("delivered", "delivered"), ("pending", "waiting"),
                                           ("refused", "refused")), strict=True):
        col.metric(f"work orders {label}", counts.get(status, 0), border=True)
    frame = wo.undelivered(ctx.url)
    if frame.empty:
        st.success("Every work order was delivered to the webhook.", icon=":material/check_circle:")
        return
    st.warning(f"{len(frame)} work orders are not delivered. Waiting ones are sent again by the next scoring "
               "run; refused ones were rejected by the receiver: fix the cause, then run "
               "`plantpulse alerts export --webhook`.", icon=":material/outgoing_mail:")
    table = pd.DataFrame({
        "alert": frame["alert_id"], "asset": frame["asset"].fillna(""), "rule": frame["rule"],
        "severity": frame["severity"], "created": [format_ts(t, ctx.zone) for t in frame["created_at"]],
        "state": frame["delivery_status"].map({"pending": "waiting", "refused": "refused"}),
        "attempts": frame["delivery_attempts"], "last error": frame["delivery_error"].fillna(""),
    })
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"last error": st.column_config.TextColumn("last error", width="large")})


def render(ctx: AppContext) -> None:
    started = components.header("Jobs", "When scoring runs, how each run went, and a button to run it now.")
    components.show_flash()
    latest = q.last_per_job(ctx.url)
    if len(latest):
        cols = st.columns(4)
        for col, row in zip(cols, latest.itertuples(index=False), strict=False):
            col.metric(row.job, row.status, delta=f"{format_age(row.started_at)} · {row.count} runs",
                       delta_color="off", delta_arrow="off", border=True)
    jobs = launch.scheduled_jobs(ctx.settings)
    st.subheader("Schedule")
    schedule(ctx, jobs)
    st.subheader("Run now")
    run_now(ctx, jobs, latest)
    st.subheader("History")
    history(ctx)
    st.subheader("Work orders")
    workorders(ctx)
    components.footer(ctx, started)
