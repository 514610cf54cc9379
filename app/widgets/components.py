"""Small building blocks shared by the pages: headers, empty states, the alert list, navigation."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from plantpulse.app.auth import NotAllowedError, require_engineer
from plantpulse.app.context import AppContext
from plantpulse.app.queries import fleet
from plantpulse.app.queries.sql import database, problem
from plantpulse.app.widgets import health
from plantpulse.app.widgets.timefmt import format_age, format_ts, zone_label
from plantpulse.data.core.errors import PlantPulseError
from plantpulse.data.store.db_errors import DATABASE_ERRORS
from plantpulse.data.store.repository import acknowledge_alert

PAGES_KEY = "plantpulse_pages"
MORE_ALERTS = 30  # listed (without buttons) below the first few alert cards
_FLASH_KEY = "plantpulse_flash"


def header(title: str, caption: str) -> float:
    """Page title and one line saying what the page is for; returns the start time (for the footer)."""
    st.title(title)
    st.caption(caption)
    return time.perf_counter()


def footer(ctx: AppContext, started: float) -> None:
    """When the page was computed, how long it took, and which time zone the times are in."""
    now = format_ts(datetime.now(UTC), ctx.zone, seconds=True)
    st.caption(f"Computed in {time.perf_counter() - started:.2f} s at {now} · times in "
               f"{zone_label(ctx.zone)} · signed in as {ctx.user.name} ({ctx.user.role})")


def empty(message: str, command: str | None = None) -> None:
    """A friendly "nothing here yet" with the command that fills it."""
    st.info(message + (f"  \nRun `{command}`." if command else ""), icon=":material/info:")


def flash(message: str, kind: str = "success") -> None:
    """Show ``message`` once on the next run (after a button callback)."""
    st.session_state[_FLASH_KEY] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop(_FLASH_KEY, (None, None))
    if message:
        (st.success if kind == "success" else st.error)(message)


def go_to(key: str, **params: str) -> None:
    """Switch to the page registered under ``key`` (see main.py) with query parameters."""
    st.switch_page(st.session_state[PAGES_KEY][key], query_params=params or None)


def guarded(action: str, ctx: AppContext, write: Callable[[], str]) -> None:
    """Run an engineer's write as a button callback; its outcome is flashed on the next run."""
    try:
        require_engineer(ctx.user, action)
        flash(write())
    except (NotAllowedError, PlantPulseError) as err:
        flash(str(err), "error")
    except DATABASE_ERRORS as err:
        flash(problem(err, ctx.url), "error")


def _acknowledge(ctx: AppContext, alert_id: int) -> str:
    with database(ctx.url).session() as session:
        alert = acknowledge_alert(session, alert_id, ctx.user.name)
        status = alert.status
    fleet.clear()
    return f"Alert {alert_id} {status} by {ctx.user.name}."


def alert_list(ctx: AppContext, alerts: pd.DataFrame, key: str, limit: int = 5) -> None:
    """Open and acknowledged alerts, worst first; engineers get an Acknowledge button per alert."""
    if alerts.empty:
        st.success("No open alerts.", icon=":material/check_circle:")
        return
    for row in alerts.head(limit).itertuples(index=False):
        state = health.state(row.rank, True)
        when = format_age(row.updated_at)
        repeat = f" · seen {row.occurrences}×" if row.occurrences > 1 else ""
        ack = f" · acknowledged by {row.acknowledged_by}" if row.status == "acknowledged" else ""
        message = row.message
        if row.asset and message.startswith(f"{row.asset}: "):  # the asset is named already
            message = message[len(row.asset) + 2:]
        action = f"  \n:small[:gray[Recommended: {row.recommended_action}]]" if row.recommended_action else ""
        with st.container(border=True):
            st.markdown(f"{health.BADGES[state]} **{row.asset or 'plant'}** — {message}  \n"
                        f":gray[{row.severity} · {row.rule} · {when}{repeat}{ack}]{action}")
            if row.status == "open" and ctx.user.can_write:
                st.button("Acknowledge", key=f"{key}-ack-{row.id}", icon=":material/check:",
                          on_click=guarded,
                          args=("acknowledge alerts", ctx, lambda i=int(row.id): _acknowledge(ctx, i)))
    if len(alerts) > limit:
        rest = alerts.iloc[limit:]
        with st.expander(f"{len(rest)} more alerts"):
            st.markdown("\n".join(
                f"- {health.BADGES[health.state(r.rank, True)]} **{r.asset or 'plant'}** — {r.message} "
                f":gray[({r.severity}, {r.status}, {format_age(r.updated_at)})]"
                for r in rest.head(MORE_ALERTS).itertuples(index=False)))
            more = len(rest) - MORE_ALERTS
            st.caption((f"And {more} more. " if more > 0 else "") + "Acknowledge these on the asset's page.")
