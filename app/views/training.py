"""The "Train a model" tab of Models & results (models.py): engineers fill a training spec and
start ``plantpulse fit`` in its own process (app/launch.py); everyone sees the fit runs, their stage
while they run (refreshed every few seconds) and, when done, every learner's held-out metrics and
the report's figure side by side; engineers promote a version that is not in production.

The form's values become a :class:`~plantpulse.pipelines.fit.spec.FitSpec` through ``load_spec``,
so a wrong value gets the same message as on the command line.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from plantpulse.app import launch
from plantpulse.app.context import AppContext
from plantpulse.app.queries import fits as fq
from plantpulse.app.queries import jobs as jobs_q
from plantpulse.app.queries import models as models_q
from plantpulse.app.widgets import components
from plantpulse.app.widgets.timefmt import format_ts
from plantpulse.pipelines.fit.service import FIT_JOB_PREFIX, job_name
from plantpulse.pipelines.fit.spec import FitSpec, load_spec

Promote = Callable[[AppContext, int, str], str]
TARGETS = {"rul": "remaining useful life (rul)", "class": "fault class (class)", "anomaly": "anomaly"}
SOURCES = {  # label sources per target, as FitSpec names them
    "rul": {"failure_events": "failure events in the log", "threshold": "a threshold rule",
            "end_times": "end-of-life times (CSV)"},
    "class": {"label_column": "a label column", "label_file": "a label file (CSV)",
              "event_codes": "event codes in the log"},
    "anomaly": {"normal_fraction": "first share of each asset's life is normal",
                "normal_dates": "a normal period (dates)"},
}
STAGE_SHARE = {"starting": 0.02, "reading windows": 0.05, "training baseline": 0.2, "training moe": 0.4,
               "evaluating": 0.85, "writing report": 0.95, "done": 1.0}
REFRESH_S = 2.0
AWAIT_S = 120.0  # after Start, the tab refreshes until the new run's row appears (or this long)
SHOWN_RUNS = 10
UPLOAD_MB = 20
K = "fit-"  # widget key prefix
ANY_KIND = "(any kind)"


def _default(name: str) -> Any:
    return FitSpec.model_fields[name].default


def _state(name: str, default: Any = None) -> Any:
    return st.session_state.get(K + name, default)


# ---------------------------------------------------------------- the form


def _rul_source(url: str, source: str, asset_type: str, channels: list[str]) -> None:
    if source == "failure_events":
        events = fq.type_events(url, asset_type)
        kinds = sorted(set(events["kind"]))
        if kinds:
            st.selectbox("Event kind that ends a life", kinds, key=K + "failure-kind",
                         index=kinds.index("failure") if "failure" in kinds else 0)
            codes = sorted({c for c in events.loc[events["kind"] == _state("failure-kind"), "code"] if c})
            st.selectbox("Only events with code", ["(any code)", *codes], key=K + "failure-code")
        else:
            st.warning(f"No maintenance event is logged for {asset_type} assets; ingest the log first "
                       "(`plantpulse ingest logs FILE`) or pick another label source.")
    elif source == "threshold":
        left, middle, right = st.columns([2, 1, 2])
        left.selectbox("Channel", channels, key=K + "threshold-channel")
        middle.selectbox("Rule", [">=", "<="], key=K + "threshold-op")
        right.number_input("Value", value=0.0, key=K + "threshold-value", format="%g")
    else:
        st.file_uploader("CSV asset,end_time", type=["csv"], key=K + "end-times", max_upload_size=UPLOAD_MB)
    left, right = st.columns(2)
    left.selectbox("RUL unit", ["auto", "cycles", "hours", "seconds"], key=K + "rul-unit")
    right.number_input("RUL cap (0: the 95th percentile)", min_value=0.0, value=0.0, key=K + "rul-cap")


def _class_source(url: str, source: str, asset_type: str, channels: list[str]) -> None:
    if source == "label_column":
        st.selectbox("Channel holding class numbers", channels, key=K + "label-column")
    elif source == "label_file":
        st.file_uploader("CSV asset,class or asset,start,end,class", type=["csv"], key=K + "label-file",
                         max_upload_size=UPLOAD_MB)
    else:
        events = fq.type_events(url, asset_type)
        kinds = sorted({k for k in events["kind"] if k})
        st.selectbox("Only events of kind (e.g. failure, when the log also holds error or maintenance codes)",
                     [ANY_KIND, *kinds], index=1 + kinds.index("failure") if "failure" in kinds else 0,
                     key=K + "codes-kind")
        chosen = _state("codes-kind", ANY_KIND)
        codes = sorted({c for c, k in zip(events["code"], events["kind"], strict=True)
                        if c and chosen in (ANY_KIND, k)})
        st.multiselect("Event codes (none: every code)", codes, key=K + "codes")
        left, right = st.columns(2)
        left.number_input("Horizon (hours)", min_value=0.1, value=float(_default("horizon_hours")),
                          key=K + "horizon-hours")
        right.text_input("Class when no event follows", value=_default("normal_class"), key=K + "normal-class")


def _anomaly_source(source: str) -> None:
    if source == "normal_fraction":
        st.slider("Normal share of each asset's life", 0.05, 0.95, 0.3, 0.05, key=K + "normal-fraction")
    else:
        left, right = st.columns(2)
        left.date_input("Normal from", value=None, key=K + "normal-start")
        right.date_input("Normal until", value=None, key=K + "normal-end")


def _midnight(value: Any) -> datetime | None:
    return None if value is None else datetime.combine(value, time(0), tzinfo=UTC)


def _upload(name: str, file_name: str, fields: dict[str, Any], files: dict[str, bytes], field: str) -> None:
    upload = _state(name)
    if upload is not None:
        files[file_name] = upload.getvalue()
        fields[field] = Path(file_name)  # next to spec.toml, where load_spec looks for it


def _source_fields(source: str, fields: dict[str, Any], files: dict[str, bytes]) -> None:
    """The chosen label source's spec fields, read from the form's widgets."""
    if source == "failure_events":
        fields["failure_kind"] = _state("failure-kind")
        code = _state("failure-code")
        fields["failure_code"] = None if code in (None, "(any code)") else code
    elif source == "threshold":
        fields["threshold"] = f"{_state('threshold-channel')} {_state('threshold-op')} {_state('threshold-value'):g}"
    elif source == "end_times":
        _upload("end-times", "end_times.csv", fields, files, "end_times")
    elif source == "label_column":
        fields["label_column"] = _state("label-column")
    elif source == "label_file":
        _upload("label-file", "labels.csv", fields, files, "label_file")
    elif source == "event_codes":
        kind = _state("codes-kind", ANY_KIND)
        fields |= {"event_codes": True, "codes": tuple(_state("codes", ())),
                   "failure_kind": None if kind == ANY_KIND else kind,
                   "horizon_hours": _state("horizon-hours"), "normal_class": _state("normal-class")}
    elif source == "normal_fraction":
        fields["normal_fraction"] = _state("normal-fraction")
    else:
        fields |= {"normal_start": _midnight(_state("normal-start")), "normal_end": _midnight(_state("normal-end"))}


def form_spec() -> tuple[FitSpec, dict[str, bytes]]:
    """The spec the form's widgets describe (validated like ``plantpulse fit --spec``) and its files."""
    target = _state("target")
    fields: dict[str, Any] = {"asset_type": _state("asset-type"), "target": target,
                              "channels": tuple(_state("channels", ())), "window": _state("window"),
                              "stride": _state("stride"), "epochs": _state("epochs"), "holdout": _state("holdout"),
                              "backbone": "shipped" if _state("backbone") else None}
    files: dict[str, bytes] = {}
    _source_fields(_state(f"source-{target}"), fields, files)
    if target == "rul":
        fields |= {"rul_unit": _state("rul-unit"), "rul_cap": _state("rul-cap") or None}
    return load_spec(None, fields), files


def _start(ctx: AppContext, running: set[str], newest_id: int) -> str:
    spec, files = form_spec()
    folder = launch.start_fit(ctx.settings, spec, job_name(spec) in running, files)
    st.session_state[K + "awaiting"] = (job_name(spec), newest_id, clock.monotonic())
    jobs_q.clear()
    return (f"Started training {spec.asset_type}-{spec.target} ({spec.source}) in its own process; its spec, "
            f"log and report are in {folder}.")


def form(ctx: AppContext, running: set[str], newest_id: int) -> None:
    types = fq.asset_types(ctx.url)
    if not types:
        components.empty("No assets yet: training reads an asset type's readings from the database.",
                         "plantpulse ingest sensors FILE --create-assets --asset-type TYPE")
        return
    with st.container(border=True):
        st.markdown("#### New training run  \n:gray[A gradient-boosting baseline and the MoE are trained on the "
                    "same assets, compared on held-out assets, registered; the better one is promoted.]")
        left, right = st.columns(2)
        asset_type = left.selectbox("Asset type", types, key=K + "asset-type")
        target = right.selectbox("Target", list(TARGETS), format_func=TARGETS.__getitem__, key=K + "target")
        channels = fq.type_channels(ctx.url, asset_type)
        sources = SOURCES[target]
        source = st.radio("Label source", list(sources), format_func=sources.__getitem__, horizontal=True,
                          key=f"{K}source-{target}")
        if target == "rul":
            _rul_source(ctx.url, source, asset_type, channels)
        elif target == "class":
            _class_source(ctx.url, source, asset_type, channels)
        else:
            _anomaly_source(source)
        st.multiselect("Input channels (none: all)", channels, key=K + "channels")
        cols = st.columns(4)
        cols[0].number_input("Window (steps)", min_value=4, value=_default("window"), key=K + "window")
        cols[1].number_input("Stride (steps)", min_value=1, value=_default("stride"), key=K + "stride")
        cols[2].number_input("MoE epochs", min_value=1, value=_default("epochs"), key=K + "epochs")
        cols[3].number_input("Held-out share of assets", min_value=0.05, max_value=0.95, value=_default("holdout"),
                             step=0.05, key=K + "holdout")
        st.checkbox("Start the MoE from the shipped backbone (a new adapter + head is trained)", key=K + "backbone")
        st.button("Start training", type="primary", icon=":material/model_training:", key=K + "start",
                  on_click=components.guarded, args=("start training", ctx, lambda: _start(ctx, running, newest_id)))


# ---------------------------------------------------------------- the runs


def _progress(details: dict[str, Any]) -> tuple[float, str]:
    stage, step = details.get("stage") or "starting", details.get("step")
    share = STAGE_SHARE.get(stage, 0.0)
    if step and stage == "training moe":
        done, _, total = str(step).removeprefix("epoch ").partition(" of ")
        if done.isdigit() and total.isdigit() and int(total):
            share += 0.45 * int(done) / int(total)
    return min(share, 1.0), stage + (f" — {step}" if step else "")


def _results(ctx: AppContext, details: dict[str, Any], production: dict[str, int], promote: Promote) -> None:
    report = fq.report(details.get("report_json"))
    if report is None:
        st.warning(f"The report of this run is gone ({details.get('report_json') or 'never written'}).")
        return
    head = report.get("headline") or {}
    titles = report.get("titles") or {}
    winner = report.get("winner")
    st.markdown(f"Held-out assets: {', '.join(report['data']['test_assets'])} · best on validation "
                f"**{head.get('metric')}** ({head.get('better')} is better): **{titles.get(winner, winner)}**")
    st.table(fq.metric_table(report).set_index("metric"))  # a few rows: plain HTML, readable and copyable
    base = Path(details["report_json"]).parent
    for plot in report.get("plots") or []:
        if (base / plot["file"]).is_file():
            st.image(str(base / plot["file"]), caption=plot["caption"])
    versions: dict[str, dict[str, Any]] = details.get("versions") or {}
    for kind, version in versions.items():
        title = titles.get(kind, kind)
        if version["id"] in production.values():
            st.markdown(f":green-badge[production] {version['label']} — {title}")
        else:
            st.markdown(f":gray-badge[not in production] {version['label']} — {title}")
            if ctx.user.can_write:
                st.button(f"Promote {version['label']} ({title})", key=f"{K}promote-{version['id']}",
                          on_click=components.guarded,
                          args=("promote models", ctx, lambda i=int(version["id"]): _promote(ctx, promote, i)))


def _promote(ctx: AppContext, promote: Promote, version_id: int) -> str:
    st.session_state[K + "redraw"] = True  # the button sits in a fragment: redraw the whole page after it
    return promote(ctx, version_id, "promoted")


def _one_run(ctx: AppContext, row: Any, newest: bool, production: dict[str, int], promote: Promote) -> None:
    details = row.details or {}
    name = str(row.job).removeprefix(FIT_JOB_PREFIX)
    badge = {"running": ":blue-badge[running]", "succeeded": ":green-badge[done]",
             "failed": ":red-badge[failed]"}.get(row.status, f":gray-badge[{row.status}]")
    st.markdown(f"**{name}** {badge} :gray[· {details.get('label_source', '')} · started "
                f"{format_ts(row.started_at, ctx.zone, seconds=True)} · run {row.id}]")
    if row.status in jobs_q.RUNNING:
        share, text = _progress(details)
        st.progress(share, text=text)
    elif row.status == "succeeded":
        with st.expander("MoE vs baseline", expanded=newest):
            _results(ctx, details, production, promote)
    else:
        st.error(f"{row.error or row.status} (stage: {details.get('stage', '?')}; log: "
                 f"{Path(details.get('out_dir', '.')).parent / 'fit.log'})")


def runs(ctx: AppContext, frame: pd.DataFrame, promote: Promote) -> None:
    if frame.empty:
        components.empty("No training run yet." + (" Start one above." if ctx.user.can_write else ""))
        return
    versions = models_q.versions(ctx.url)
    production = ({} if versions.empty else
                  {str(r.name): int(r.id) for r in versions[versions["stage"] == "production"].itertuples()})
    finished = frame[~frame["status"].isin(jobs_q.RUNNING)]
    newest_done = int(finished.iloc[0]["id"]) if len(finished) else None
    for row in frame.head(SHOWN_RUNS).itertuples(index=False):
        with st.container(border=True):
            _one_run(ctx, row, row.id == newest_done, production, promote)


def _live(frame: pd.DataFrame) -> bool:
    """A run is going, or one was started from this session and its process has not opened its row yet."""
    awaiting = st.session_state.get(K + "awaiting")
    if awaiting is not None:
        job, newest_id, since = awaiting
        if ((frame["job"] == job) & (frame["id"] > newest_id)).any() or clock.monotonic() - since > AWAIT_S:
            del st.session_state[K + "awaiting"]
            awaiting = None
    return awaiting is not None or bool(frame["status"].isin(jobs_q.RUNNING).any())


def _live_runs(ctx: AppContext, was_live: bool, promote: Promote) -> None:
    if st.session_state.pop(K + "redraw", False):
        st.rerun(scope="app")  # after a promotion: its message and the Model versions tab are outside
    jobs_q.runs.clear()  # this fragment reruns every few seconds to follow a run: read fresh rows
    frame = jobs_q.runs(ctx.url, limit=SHOWN_RUNS, prefix=FIT_JOB_PREFIX)
    if was_live and not _live(frame):
        models_q.versions.clear()
        st.rerun(scope="app")  # the run finished: redraw the page (and stop refreshing)
    runs(ctx, frame, promote)


def render_tab(ctx: AppContext, promote: Promote) -> None:
    frame = jobs_q.runs(ctx.url, limit=SHOWN_RUNS, prefix=FIT_JOB_PREFIX)
    running = set(frame.loc[frame["status"].isin(jobs_q.RUNNING), "job"])
    if ctx.user.can_write:
        form(ctx, running, int(frame["id"].max()) if len(frame) else 0)
    else:
        st.caption("Only engineers can start training; you see the runs and their results.")
    st.markdown("#### Training runs")
    live = _live(frame)
    st.fragment(run_every=REFRESH_S if live else None)(_live_runs)(ctx, live, promote)
