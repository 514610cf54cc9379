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
    if file is not None and kind in ("sensors", "logs"):
        _preview(ctx, kind, file, options)
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
    replace = left.checkbox("Replace the earlier batch of this file", key=f"replace-{kind}",
                            help="Same as --replace: the batch loaded from this file before (same content, "
                                 "else same name) is removed and the file read again, in one transaction.")
    if kind == "images":
        cells = asset_q.asset_names(ctx.url)
        cell = right.selectbox("Weld cell", [None, *cells], format_func=lambda c: c or "(none)",
                               key="upload-cell")
        return uploads.UploadOptions(create_assets=create, asset_type="weld_cell", cell=cell, replace=replace)
    asset_type = right.text_input("Type of new assets", "generic", key=f"type-{kind}",
                                  disabled=not create)
    return uploads.UploadOptions(create_assets=create, asset_type=asset_type.strip() or "generic",
                                 replace=replace, read=_read_options(ctx, kind))


def _read_options(ctx: AppContext, kind: str) -> uploads.ReadOptions:
    """The reading options of `plantpulse ingest sensors|logs`, as form fields (help: the flag)."""
    with st.expander(f"How to read the file (the options of plantpulse ingest {kind})"):
        a, b, c = st.columns(3)
        columns = a.text_input("Column names, for a file without a header line", key=f"read-columns-{kind}",
                               placeholder="timestamp,asset,temp" if kind == "sensors" else "ts,asset,text",
                               help="--columns: every line is then data.")
        template = b.text_input("Asset template", key=f"read-template-{kind}", placeholder="{}",
                                help="--asset-template, e.g. azure-machine-{:03d} turns 7 into azure-machine-007.")
        zone = c.text_input("Time zone of times without one", key=f"read-timezone-{kind}",
                            placeholder=ctx.settings.timezone, help="--timezone")
        time_format = a.text_input("Time format", key=f"read-time-format-{kind}", placeholder="ISO 8601",
                                   help="--time-format (strptime), e.g. %d.%m.%Y %H:%M")
        if kind == "logs":
            return _log_fields(b, c, columns, template, zone, time_format)
        asset = b.text_input("Asset of the whole file", key="read-asset", help="--asset")
        asset_column = c.text_input("Asset column", key="read-asset-column", help="--asset-column")
        asset_pattern = a.text_input("Asset from the file name (regex)", key="read-asset-pattern",
                                     help="--asset-pattern, group 'asset' or 1; the template applies to it.")
        time_column = b.text_input("Time column", key="read-time-column", help="--time-column")
        delimiter = c.text_input("Delimiter", ",", key="read-delimiter", max_chars=1, help="--delimiter")
        epoch = a.text_input("Numeric times count from (epoch)", key="read-epoch",
                             placeholder="2024-05-01T00:00:00Z",
                             help="--epoch: times are numbers since this moment; for .mat files the time of "
                                  "the first sample. Empty with a unit: Unix times.")
        unit = b.selectbox("Unit of numeric times", ["", "s", "ms", "us"], key="read-epoch-unit",
                           format_func=lambda u: u or "(not numeric)", help="--epoch-unit")
        rate = c.number_input(".mat: samples per second", min_value=0.0, value=0.0, key="read-rate-hz",
                              help="--rate-hz")
        mat_vars = a.text_area(".mat: variable = channel, one per line", key="read-mat-vars",
                               placeholder="*_DE_time=drive_end_accel", help="--mat-var (globs allowed)")
    return uploads.ReadOptions(columns=columns, asset=asset, asset_column=asset_column, asset_pattern=asset_pattern,
                               asset_template=template, time_column=time_column, time_format=time_format,
                               epoch=epoch, epoch_unit=unit or "", timezone=zone, delimiter=delimiter or ",",
                               mat_vars=mat_vars, rate_hz=float(rate or 0.0))


def _log_fields(b: Any, c: Any, columns: str, template: str, zone: str, time_format: str) -> uploads.ReadOptions:
    from plantpulse.connectors.logs.presets import FORMATS

    log_format = b.selectbox("Format", list(FORMATS), key="read-log-format", help="--format")
    source = c.text_input("Source system", key="read-log-source", help="--source (events are unique per source and id)")
    mapping = b.text_area("Column mapping, field = column, one per line", key="read-log-map",
                          placeholder="ts=Date\nasset=Equipment\ntext=Description",
                          help="--map; fields: ts, asset, kind, code, component, text, action, external_id")
    kind = c.text_input("Event kind", key="read-log-kind", help="--kind, when the file has no kind column")
    no_asset = c.checkbox("Store events without an asset column", key="read-allow-no-asset", help="--allow-no-asset")
    no_time = c.checkbox("Store events without a time column", key="read-allow-no-time", help="--allow-no-time")
    return uploads.ReadOptions(columns=columns, asset_template=template, time_format=time_format, timezone=zone,
                               log_format=log_format or "auto", mapping=mapping, source=source, kind=kind,
                               allow_no_asset=no_asset, allow_no_time=no_time)


def _preview(ctx: AppContext, kind: str, file: Any, options: uploads.UploadOptions) -> None:
    """The first rows as the ingest will read them with the options above; nothing is stored."""
    st.markdown("**Preview: the first rows as they will be read** (nothing is stored yet)")
    try:
        preview = uploads.preview_upload(ctx.settings, kind, file.name, file, file.size, options)
    except PlantPulseError as err:
        st.error(f"{err}", icon=":material/error:")
        return
    st.caption(" · ".join(f"{k}: {v}" for k, v in preview.facts.items() if v))
    st.dataframe(preview.rows, hide_index=True, width="stretch", key="upload-preview")
    if not preview.refused.empty:
        st.warning(f"{len(preview.refused):,} of the first rows would be quarantined:", icon=":material/warning:")
        st.dataframe(preview.refused, hide_index=True, width="stretch", key="upload-preview-refused")


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
