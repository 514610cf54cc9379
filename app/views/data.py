"""Data: upload sensor files, maintenance logs, weld-image zips and asset registries with
progress and a validation summary; ingest history with downloadable quarantined rows; OPC-UA
connection settings, live intake status and the last values received."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from plantpulse.app import upload_guard, uploads
from plantpulse.app.context import AppContext
from plantpulse.app.queries import asset as asset_q
from plantpulse.app.queries import fleet, ingest, weld
from plantpulse.app.queries.sql import problem
from plantpulse.app.views import weld as weld_view
from plantpulse.app.widgets import components
from plantpulse.app.widgets.timefmt import format_age, format_ts
from plantpulse.data.core.errors import PlantPulseError
from plantpulse.data.store.db_errors import DATABASE_ERRORS

log = logging.getLogger(__name__)
RESULT_KEY = "plantpulse_upload_result"
NOUNS = {"sensors": "values", "logs": "events", "images": "images", "assets": "assets"}
FACTS = ("layout", "time_column", "asset_column", "timezone", "format", "assets", "assets_created_count",
         "images_found", "label_files")


def _upload_form(ctx: AppContext) -> None:
    labels = {key: kind.label for key, kind in uploads.KINDS.items()}
    kind = st.segmented_control("What are you uploading?", list(labels), format_func=lambda k: labels[k],
                                default="sensors", key="upload-kind") or "sensors"
    spec = uploads.KINDS[kind]
    ingest_settings = ctx.settings.ingest
    limit = ingest_settings.max_upload_mb
    file = st.file_uploader(f"{spec.label} file", type=list(spec.extensions),
                            max_upload_size=max(1, math.ceil(limit)), key=f"upload-{kind}",
                            help=f"{spec.help} Up to {limit:g} MB per file; "
                                 f"{ingest_settings.max_uploads_per_session} files and "
                                 f"{ingest_settings.max_session_upload_mb:g} MB per session.")
    options = _options(ctx, kind)
    if st.button("Ingest", type="primary", disabled=file is None, icon=":material/upload:",
                 key="upload-go"):
        try:
            _run(ctx, kind, file, options)
        finally:  # the bytes stay in server memory until released
            upload_guard.release(file)
            st.session_state.pop(f"upload-{kind}", None)
    _show_result(ctx)


def _options(ctx: AppContext, kind: str) -> uploads.UploadOptions:
    if kind == "assets":
        return uploads.UploadOptions()
    left, right = st.columns(2)
    create = left.checkbox("Create assets that are not registered yet", key=f"create-{kind}",
                           help="Otherwise rows of unknown assets are quarantined.")
    if kind == "images":
        cells = asset_q.asset_names(ctx.url)
        cell = right.selectbox("Weld cell", [None, *cells], format_func=lambda c: c or "(none)",
                               key="upload-cell")
        return uploads.UploadOptions(create_assets=create, asset_type="weld_cell", cell=cell)
    asset_type = right.text_input("Type of new assets", "generic", key=f"type-{kind}",
                                  disabled=not create)
    return uploads.UploadOptions(create_assets=create, asset_type=asset_type.strip() or "generic")


def _run(ctx: AppContext, kind: str, file: Any, options: uploads.UploadOptions) -> None:
    if not ctx.user.can_write:
        st.error("Only engineers can upload data.")
        return
    bar = st.progress(0.0, text=f"Reading {file.name}")
    try:
        result = uploads.ingest_upload(ctx.settings, kind, file.name, file, file.size, options,
                                       lambda f, text: bar.progress(min(1.0, f), text=text))
    except PlantPulseError as err:
        bar.empty()
        st.session_state[RESULT_KEY] = {"error": str(err), "name": file.name}
        return
    except DATABASE_ERRORS as err:  # the database failed, not the file: say which and how to fix it
        bar.empty()
        st.session_state[RESULT_KEY] = {"error": f"{file.name}: nothing was stored: {problem(err, ctx.url)}",
                                        "name": file.name}
        return
    except Exception as err:
        log.exception("upload of %s failed", file.name)
        bar.empty()
        st.session_state[RESULT_KEY] = {
            "error": f"{file.name}: the upload failed unexpectedly ({type(err).__name__}: {err}). "
                     "Nothing was stored. Please report this with the file.", "name": file.name}
        return
    bar.progress(1.0, text="Done")
    st.session_state[RESULT_KEY] = {"result": result, "name": file.name}
    fleet.clear()
    weld.clear()
    weld_view.p_chart_points.clear()
    ingest.batches.clear()
    asset_q.asset_names.clear()


def _show_result(ctx: AppContext) -> None:
    outcome = st.session_state.get(RESULT_KEY)
    if not outcome:
        return
    if "error" in outcome:
        st.error(outcome["error"], icon=":material/error:")
        return
    result = outcome["result"]
    if result.status != "committed":
        st.info(result.message or f"{outcome['name']} was ingested before (batch {result.batch_id}); "
                "nothing new was stored.", icon=":material/info:")
        return
    box = st.warning if result.quarantined else st.success
    noun = NOUNS.get(str(result.summary.get("kind", "")), "records")
    box(f"**{outcome['name']}**: {result.loaded:,} {noun} stored, {result.quarantined:,} quarantined, "
        f"{result.duplicates:,} duplicates ({result.rows_total:,} rows read, batch {result.batch_id}).")
    summary(ctx, result.batch_id, result.summary)


def summary(ctx: AppContext, batch_id: int, details: dict[str, Any]) -> None:
    """Validation summary of one batch: reasons, time span, and the quarantined rows to download."""
    reasons = details.get("quarantine_reasons") or {}
    facts = {k: details[k] for k in FACTS if isinstance(details.get(k), str | int | float)}
    if "time_span" in details:
        span = details["time_span"]
        facts["time span"] = f"{format_ts(span[0], ctx.zone)} – {format_ts(span[1], ctx.zone)}"
    if facts:
        st.caption(" · ".join(f"{k.replace('_', ' ')}: {v}" for k, v in facts.items()))
    if details:
        with st.expander("Everything the batch recorded"):
            st.json(details, expanded=False)
    if reasons:
        st.markdown("**Why rows were quarantined**")
        st.dataframe(pd.DataFrame(list(reasons.items()), columns=["reason", "rows"]), hide_index=True)
    rows = ingest.quarantined(ctx.url, batch_id)
    if rows.empty:
        return
    st.dataframe(rows.drop(columns=["batch_id", "created_at"]).head(200), hide_index=True,
                 width="stretch", column_config={"raw": st.column_config.TextColumn("raw", width="large")})
    st.download_button(f"Download {len(rows):,} quarantined rows (CSV)", ingest.quarantine_csv(rows),
                       file_name=f"quarantine-batch-{batch_id}.csv", mime="text/csv",
                       icon=":material/download:", key=f"qdl-{batch_id}", on_click="ignore")


def history(ctx: AppContext) -> None:
    frame = ingest.batches(ctx.url)
    if frame.empty:
        components.empty("Nothing has been ingested yet.", "plantpulse ingest sensors FILE")
        return
    table = frame.assign(started=[format_ts(t, ctx.zone, seconds=True) for t in frame["started_at"]])
    st.dataframe(table[["id", "connector", "source", "status", "started", "rows_total", "rows_loaded",
                        "rows_duplicate", "rows_quarantined", "error"]],
                 hide_index=True, width="stretch", height=320)
    bad = frame[frame["rows_quarantined"] > 0]
    if bad.empty:
        st.caption("No batch has quarantined rows.")
        return
    labels = {int(r.id): f"#{r.id} {r.source} ({r.rows_quarantined:,} quarantined)"
              for r in bad.itertuples(index=False)}
    chosen = st.selectbox("Quarantined rows of batch", list(labels), format_func=lambda b: labels[b],
                          key="history-batch")
    summary(ctx, chosen, frame.set_index("id").at[chosen, "summary"] or {})


def opcua(ctx: AppContext) -> None:
    cfg = ctx.settings.opcua
    status = ingest.opcua_intake(ctx.url)
    last = status["last_flush"]
    quiet_s = max(30.0, 10 * cfg.flush_interval_s)
    fresh = last is not None and (datetime.now(UTC) - last).total_seconds() < quiet_s
    cols = st.columns(4)
    cols[0].metric("Intake", "receiving" if fresh else ("idle" if last else "never connected"), border=True)
    cols[1].metric("Last flush", format_age(last), border=True, help=format_ts(last, ctx.zone, seconds=True))
    cols[2].metric("Values stored (1 h)", f"{status['loaded']:,}", border=True)
    cols[3].metric("Quarantined (1 h)", f"{status['quarantined']:,}", border=True)
    left, right = st.columns([1, 1.3], gap="large")
    with left:
        st.markdown("**Connection settings**")
        secure = cfg.security_policy != "None"
        rows = [("endpoint", cfg.endpoint),
                ("security", f"{cfg.security_policy} / {cfg.security_mode}" if secure else "none (insecure)"),
                ("insecure endpoints allowed", "yes" if cfg.allow_insecure else "no"),
                ("user", cfg.username or "anonymous"),
                ("password", "set (from the environment)" if cfg.password else "not set"),
                ("certificates", str(cfg.pki_dir or ctx.settings.home / "opcua" / "pki")),
                ("nodes", str(cfg.nodes_file) if cfg.nodes_file else f"browse '{cfg.browse_root}'"),
                ("publishing / sampling", f"{cfg.publishing_interval_ms:g} ms / {cfg.sampling_interval_ms:g} ms"),
                ("backfill gaps (HistoryRead)", "on" if cfg.backfill else "off")]
        st.dataframe(pd.DataFrame(rows, columns=["setting", "value"]), hide_index=True, width="stretch")
        if not secure:
            st.warning("This connection is not encrypted. Use Basic256Sha256 with SignAndEncrypt.")
        st.caption("Change these in plantpulse.toml ([opcua]) or with PLANTPULSE_OPCUA__… variables; "
                   "the user name and password come from PLANTPULSE_OPCUA__USERNAME / __PASSWORD.")
    with right:
        st.markdown("**Last values received**")
        values = ingest.opcua_last_values(ctx.url)
        if values.empty:
            components.empty("No values have come in through OPC-UA yet.", "plantpulse opcua-ingest")
        else:
            values = values.assign(ts=[format_ts(t, ctx.zone, seconds=True) for t in values["ts"]],
                                   status=["Good" if s == 0 else f"0x{s & 0xFFFFFFFF:08X}"
                                           for s in values["status"]])
            st.dataframe(values, hide_index=True, width="stretch")


def render(ctx: AppContext) -> None:
    started = components.header("Data", "Upload files, see what was refused and why, and watch the "
                                        "live OPC-UA intake.")
    tabs = st.tabs(["Upload", "Ingest history and quarantine", "OPC-UA"])
    with tabs[0]:
        if ctx.user.can_write:
            _upload_form(ctx)
        else:
            st.info("Only engineers can upload data. You are signed in as a viewer.")
    with tabs[1]:
        history(ctx)
    with tabs[2]:
        opcua(ctx)
    components.footer(ctx, started)
