"""Models & results: model versions with their metrics, promote and roll back, the evaluation
results (docs/RESULTS.md and its JSON) with plots, the benchmark figures, and training a model for
an asset type (the "Train a model" tab, training.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from plantpulse.app.context import AppContext
from plantpulse.app.queries import fleet
from plantpulse.app.queries import models as q
from plantpulse.app.queries.sql import database
from plantpulse.app.views import training
from plantpulse.app.widgets import charts, components
from plantpulse.app.widgets.timefmt import format_ts
from plantpulse.pipelines.models.registry import Change, promote_id, rollback

STAGE_BADGES = {"production": ":green-badge[production]", "candidate": ":blue-badge[candidate]",
                "archived": ":gray-badge[archived]"}


def _done(changes: list[Change], verb: str) -> str:
    q.versions.clear()
    fleet.clear()
    chosen = next((c.label for c in changes if c.after == "production"), "The version")
    others = "; ".join(str(c) for c in changes if c.after != "production")
    return f"{chosen} {verb}: it is now the production version." + (f" ({others})" if others else "")


def promote(ctx: AppContext, version_id: int, verb: str = "promoted") -> str:
    """The Promote button: the same transaction as `plantpulse models promote`."""
    return _done(promote_id(database(ctx.url), version_id), verb)


def roll_back(ctx: AppContext, name: str) -> str:
    """The Roll back button: the same transaction as `plantpulse models rollback`."""
    return _done(rollback(database(ctx.url), name), "rolled back to")


def _one_model(ctx: AppContext, name: str, frame: pd.DataFrame) -> None:
    current = frame[frame["stage"] == "production"]
    head = f"v{int(current.iloc[0]['version'])} in production" if len(current) else "nothing in production"
    st.markdown(f"#### {name}  \n:gray[{frame.iloc[0]['kind']} · {frame.iloc[0]['task'] or 'no task'} · {head}]")
    table = pd.DataFrame({
        "version": frame["version"], "stage": frame["stage"],
        "created": [format_ts(t, ctx.zone) for t in frame["created_at"]],
        "promoted": [format_ts(t, ctx.zone) for t in frame["promoted_at"]],
        "predictions": frame["predictions"],
        "metrics": [", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in list(q.flatten(m or {}).items())[:6]) for m in frame["metrics"]],
    })
    st.dataframe(table, hide_index=True, width="stretch")
    metrics = q.metric_table(frame)
    if len(metrics):
        with st.expander("Metrics by version", expanded=False):
            st.altair_chart(charts.metric_bars(metrics), width="stretch")
    if ctx.user.can_write:
        _actions(ctx, name, frame)


def _actions(ctx: AppContext, name: str, frame: pd.DataFrame) -> None:
    others = frame[frame["stage"] != "production"]
    left, middle, right = st.columns([2, 1, 1], vertical_alignment="bottom")
    if len(others):
        labels = {int(r.id): f"v{r.version} ({r.stage})" for r in others.itertuples(index=False)}
        chosen = left.selectbox("Version", list(labels), format_func=lambda v: labels[v], key=f"pick-{name}")
        middle.button("Promote", key=f"promote-{name}", type="primary", on_click=components.guarded,
                      args=("promote models", ctx, lambda: promote(ctx, chosen, "promoted")))
    target = q.rollback_target(frame)
    if target is not None and (frame["stage"] == "production").any():
        version = int(frame.set_index("id").at[target, "version"])
        right.button(f"Roll back to v{version}", key=f"rollback-{name}", on_click=components.guarded,
                     args=("roll back models", ctx, lambda: roll_back(ctx, name)))


def versions(ctx: AppContext) -> None:
    frame = q.versions(ctx.url)
    if frame.empty:
        components.empty("No model versions are registered yet.", "plantpulse demo")
        return
    for name, part in frame.groupby("name", sort=True):
        with st.container(border=True):
            _one_model(ctx, str(name), part)


def results(ctx: AppContext) -> None:
    path = q.find_results((ctx.settings.home,))
    report = q.DOCS / "RESULTS.md"
    if path is None and not report.is_file():
        components.empty("No evaluation results yet.", "plantpulse evaluate")
        return
    if path is not None:
        data = q.read_json(str(path), path.stat().st_mtime)
        flat = pd.DataFrame(list(q.flatten(data).items()), columns=["result", "value"])
        numeric = flat[flat["value"].map(lambda v: isinstance(v, int | float) and not isinstance(v, bool))]
        st.caption(f"{len(numeric)} figures from {path.name}")
        st.dataframe(flat, hide_index=True, width="stretch", height=280)
    if report.is_file():
        show_markdown(report.read_text(encoding="utf-8"), report.parent)


def show_markdown(text: str, base: Path) -> None:
    """Markdown with its local images shown by Streamlit (relative links would not load)."""
    for kind, value in q.split_images(text, base):
        if kind == "img" and Path(value).is_file():
            st.image(value)
        elif kind == "md":
            st.markdown(value)


def benchmarks(ctx: AppContext) -> None:
    path = q.DOCS / "benchmarks.md"
    if not path.is_file():
        components.empty("No benchmark report in this installation.", "make bench")
        return
    for title, body in q.markdown_sections(path.read_text(encoding="utf-8")):
        if not title:
            continue
        with st.expander(title, expanded="Dashboard" in title):
            show_markdown(body or "_Pending._", path.parent)


def render(ctx: AppContext) -> None:
    started = components.header("Models & results", "Model versions in use, their measured quality, "
                                                     "and the speed of the system.")
    with st.container():  # above the tabs, whichever is open; always one element, so the tabs keep their place
        components.show_flash()  # (and the open tab) when a message comes and goes
    tabs = st.tabs(["Model versions", "Evaluation results", "Benchmarks", "Train a model"])
    with tabs[0]:
        versions(ctx)
    with tabs[1]:
        results(ctx)
    with tabs[2]:
        benchmarks(ctx)
    with tabs[3]:
        training.render_tab(ctx, promote)
    components.footer(ctx, started)
