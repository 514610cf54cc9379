"""Weld QC: gallery with predicted boxes, verdicts and scores; an engineer's review (accept or
correct verdict and boxes) stored for retraining; reject rate per cell and shift on a p-chart.

The gallery draws only boxes at or above each inspection's threshold (a toggle shows the rest),
highlights the deciding box and states the verdict's score against the threshold; "Full size"
opens the image at full resolution with a zoom on the deciding box and the stored file to
download (rule: ``plantpulse.pipelines.weld.display``)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from plantpulse.app.context import AppContext
from plantpulse.app.queries import weld as q
from plantpulse.app.queries.sql import database
from plantpulse.app.widgets import charts, components
from plantpulse.app.widgets import weld as views
from plantpulse.app.widgets.timefmt import format_ts
from plantpulse.data.store.schema import ModelVersion

PAGE_SIZE = 12
SHOW_ALL_KEY = "weld-all-boxes"
FILTERS = {"All": None, "Rejected": "reject", "Passed": "pass"}
BOX_COLUMNS = ["class_name", "x1", "y1", "x2", "y2"]


def class_names(ctx: AppContext, version_id: int, boxes: list[dict[str, Any]]) -> list[str]:
    """The detector's class names: its model card, else the names seen in its boxes."""
    with database(ctx.url).session() as session:
        version = session.get(ModelVersion, version_id)
        config = dict(version.config or {}) if version else {}
        path = version.path if version else None
    if config.get("names"):
        return [str(n) for n in config["names"]]
    try:
        from plantpulse.pipelines.weld.service import detector_class_names

        return detector_class_names(path)
    except Exception:
        return sorted({str(b.get("class_name")) for b in boxes if b.get("class_name")})


def boxes_table(boxes: list[dict[str, Any]], threshold: float) -> pd.DataFrame:
    """The boxes an engineer starts from: the model's boxes at or above the threshold."""
    rows = [[b.get("class_name"), *[round(float(v), 1) for v in b["box"]]] for b in boxes
            if b.get("score") is None or b["score"] >= threshold]
    return pd.DataFrame(rows, columns=BOX_COLUMNS)


def table_boxes(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Edited rows -> box dicts for ``save_review`` (incomplete rows are dropped)."""
    table = table.dropna(subset=BOX_COLUMNS)
    return [{"class_name": r.class_name, "box": [r.x1, r.y1, r.x2, r.y2]}
            for r in table.itertuples(index=False)]


def save(ctx: AppContext, inspection_id: int, verdict: str, names: list[str],
         boxes: list[dict[str, Any]] | None) -> str:
    from plantpulse.pipelines.weld import service as weld_service

    with database(ctx.url).session() as session:
        label = weld_service.save_review(session, inspection_id, verdict, names, boxes, ctx.user.name)
        kept = len(label.boxes)
    q.clear()
    p_chart_points.clear()
    return f"Review of inspection {inspection_id} saved: {verdict}, {kept} boxes."


REVIEW_KEY = "weld-review"


def _open_review(inspection_id: int) -> None:
    st.session_state[REVIEW_KEY] = inspection_id


def _close_review() -> None:
    st.session_state.pop(REVIEW_KEY, None)


@st.dialog("Review inspection", width="large", on_dismiss=_close_review)
def review_dialog(ctx: AppContext, row: dict[str, Any]) -> None:
    picture, form = st.columns([1, 1], gap="medium")
    store = ctx.settings.image_store
    view = views.view_of(row, ctx.settings.weld.reject_classes, show_all_boxes())
    image = views.annotated(views.image_file(store, row["storage_path"]), views.drawn_json(view), 640)
    if image is None:
        picture.warning(f"The image file is missing from the image store ({store}).")
    else:
        picture.image(image, caption=f"{row['name']} · {view.count_line()}", width="stretch")
    with form:
        _review_form(ctx, row)


def _review_form(ctx: AppContext, row: dict[str, Any]) -> None:
    color = "red" if row["verdict"] == "reject" else "green"
    st.markdown(f"Model: :{color}[**{row['verdict'].upper()}**] · reject score {row['reject_score']:.2f} "
                f"(threshold {row['threshold']:.2f})  \n:gray[{row['model_name']} v{row['model_version']}]")
    if row.get("review_verdict"):
        st.caption(f"Last review: {row['review_verdict']} by {row['reviewed_by'] or 'unknown'}")
    names = class_names(ctx, int(row["model_version_id"]), list(row["boxes"]))
    verdict = st.radio("Verdict", ["pass", "reject"], horizontal=True,
                       index=["pass", "reject"].index(row["verdict"]))
    edited = st.data_editor(
        boxes_table(list(row["boxes"]), row["threshold"]), num_rows="dynamic", width="stretch",
        column_config={"class_name": st.column_config.SelectboxColumn("class", options=names,
                                                                      required=True),
                       **{c: st.column_config.NumberColumn(c, min_value=0.0, format="%.0f")
                          for c in BOX_COLUMNS[1:]}},
        key=f"boxes-{row['inspection_id']}")
    st.caption("Box corners in image pixels. Add, remove or change boxes, then save the correction.")
    accept = st.button("Accept model result", type="primary", width="stretch")
    correct = st.button("Save correction", width="stretch")
    if accept or correct:
        boxes = None if accept else table_boxes(edited)
        chosen = row["verdict"] if accept else verdict
        components.guarded("review weld inspections", ctx,
                           lambda: save(ctx, int(row["inspection_id"]), chosen, names, boxes))
        _close_review()
        st.rerun()


ZOOM_KEY = "weld-zoom"


def show_all_boxes() -> bool:
    """The gallery toggle: also draw boxes below the threshold (off by default)."""
    return bool(st.session_state.get(SHOW_ALL_KEY, False))


def _open_zoom(inspection_id: int) -> None:
    st.session_state[ZOOM_KEY] = inspection_id


def _close_zoom() -> None:
    st.session_state.pop(ZOOM_KEY, None)


def verdict_line(row: dict[str, Any]) -> str:
    """``REJECT · score 0.62 ≥ threshold 0.47``: the verdict with the comparison that made it."""
    color = "red" if row["verdict"] == "reject" else "green"
    sign = "≥" if row["reject_score"] >= row["threshold"] else "<"
    return (f":{color}[**{row['verdict'].upper()}**] · score {row['reject_score']:.2f} {sign} "
            f"threshold {row['threshold']:.2f}")


@st.dialog("Full-size view", width="large", on_dismiss=_close_zoom)
def zoom_dialog(ctx: AppContext, row: dict[str, Any]) -> None:
    view = views.view_of(row, ctx.settings.weld.reject_classes, show_all_boxes())
    path = views.image_file(ctx.settings.image_store, row["storage_path"])
    image = views.annotated(path, views.drawn_json(view), None)
    st.markdown(f"{verdict_line(row)}  \n:gray[{row['name']} · {row['width']}×{row['height']} px]")
    st.caption(f"{view.deciding_line()} · {view.count_line()}")
    if image is None:
        st.warning(f"The image file is missing from the image store ({ctx.settings.image_store}).")
        return
    zoom = st.select_slider("Zoom", views.ZOOM_LEVELS, value=1, format_func=lambda z: f"{z}×",
                            key=f"zoom-{row['inspection_id']}")
    focus = views.box_centre(view.deciding_box) if zoom > 1 else None
    st.image(views.zoomed(image, zoom, focus), width="content",
             caption="Zoomed on the deciding box" if focus else "Full resolution")
    with open(path, "rb") as stored:
        st.download_button("Download the stored image", stored.read(), file_name=row["name"],
                           icon=":material/download:", key=f"download-{row['inspection_id']}")


def _card(ctx: AppContext, row: dict[str, Any], show_all: bool) -> None:
    path = views.image_file(ctx.settings.image_store, row["storage_path"])
    view = views.view_of(row, ctx.settings.weld.reject_classes, show_all)
    image = views.annotated(path, views.drawn_json(view))
    with st.container(border=True):
        if image is None:
            st.warning("Image file missing.")
        else:
            st.image(image, width="stretch")
        reviewed = f" · reviewed: {row['review_verdict']}" if row.get("review_verdict") else ""
        st.markdown(f"{verdict_line(row)}{reviewed}  \n"
                    f":gray[{row['cell'] or 'no cell'} · {format_ts(row['captured_at'] or row['created_at'], ctx.zone)}]")
        st.caption(f"{view.deciding_line()} · {view.count_line()}")
        left, right = st.columns(2)
        left.button("Full size", key=f"zoom-open-{row['inspection_id']}", icon=":material/zoom_in:",
                    on_click=_open_zoom, args=(int(row["inspection_id"]),))
        if ctx.user.can_write:
            right.button("Review", key=f"review-{row['inspection_id']}", icon=":material/rate_review:",
                         on_click=_open_review, args=(int(row["inspection_id"]),))


def gallery(ctx: AppContext, counts: dict[str, int]) -> None:
    left, middle, right = st.columns([2, 1.2, 1], vertical_alignment="bottom")
    choice = left.segmented_control("Verdict", list(FILTERS), default="All", key="weld-filter") or "All"
    unreviewed = middle.toggle("Only not reviewed", key="weld-unreviewed")
    show_all = middle.toggle("Show boxes below the threshold", key=SHOW_ALL_KEY,
                             help="By default only boxes scoring at or above the verdict's "
                                  "threshold are drawn.")
    verdict = FILTERS[choice]
    total = counts.get(verdict, counts["total"]) if verdict else counts["total"]
    pages = max(1, -(-total // PAGE_SIZE))
    page = right.number_input("Page", 1, pages, 1, key="weld-page") if pages > 1 else 1
    rows = q.inspections(ctx.url, verdict, unreviewed, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    if rows.empty:
        st.caption("No inspections match.")
        return
    grid = st.columns(4)
    for i, row in enumerate(rows.to_dict("records")):
        with grid[i % 4]:
            _card(ctx, row, show_all)


@st.cache_data(ttl=60, show_spinner=False)
def p_chart_points(url: str, shift_starts: tuple[int, ...], zone_name: str, sigma: float, baseline: int,
                   min_inspections: int) -> dict[str, list[dict[str, Any]]]:
    """Every weld cell's shifts as the alert rule judges them (cached for a minute)."""
    from zoneinfo import ZoneInfo

    from plantpulse.pipelines.alerts.pchart import chart_points

    with database(url).session() as session:
        return chart_points(session, tuple(shift_starts), ZoneInfo(zone_name), sigma, baseline, min_inspections)


def p_chart(ctx: AppContext) -> None:
    alerts = ctx.settings.alerts
    cells = p_chart_points(ctx.url, alerts.shift_starts, ctx.zone, alerts.pchart_sigma,
                           alerts.pchart_baseline_subgroups, alerts.pchart_min_inspections)
    if not cells:
        components.empty("No inspections of a weld cell to chart yet (images need a cell: choose one "
                         "when uploading them on the Data page).")
        return
    names = sorted(cells)
    cell = st.selectbox("Weld cell", names, key="weld-cell") if len(names) > 1 else names[0]
    frame = views.p_chart_frame(cells[cell])
    st.altair_chart(charts.p_chart(frame, "shift"), width="stretch")
    flagged = int(frame["out"].sum())
    st.caption(f"Each point is one shift of {cell}. Centre line: reject rate of the previous "
               f"{alerts.pchart_baseline_subgroups} shifts; dashed: ±{alerts.pchart_sigma:g}σ limits for "
               f"that shift's size (the rule scoring alerts on). Shifts with fewer than "
               f"{alerts.pchart_min_inspections} inspections, or without 2 earlier shifts, are not judged. "
               f"Above the upper limit: {flagged}.")


def render(ctx: AppContext) -> None:
    started = components.header("Weld QC", "Detector boxes and verdicts, engineers' reviews, and the "
                                           "reject rate under statistical control.")
    counts = q.counts(ctx.url)
    if counts["total"] == 0:
        components.empty("No weld inspections yet.", "plantpulse weld predict <images or folder>")
        components.footer(ctx, started)
        return
    components.show_flash()
    cols = st.columns(4)
    rejects = counts.get("reject", 0)
    cols[0].metric("Inspected", counts["total"], border=True)
    cols[1].metric("Rejected", rejects, delta=f"{rejects / counts['total']:.0%}", delta_color="off",
                   delta_arrow="off", border=True)
    cols[2].metric("Reviewed", counts["reviewed"], border=True)
    cols[3].metric("Awaiting review", counts["total"] - counts["reviewed"], border=True)
    tabs = st.tabs(["Gallery and review", "Reject rate (p-chart)"])
    with tabs[0]:
        gallery(ctx, counts)
    chosen = st.session_state.get(REVIEW_KEY)
    zoomed = st.session_state.get(ZOOM_KEY)
    if chosen is not None and ctx.user.can_write:
        rows = q.inspections(ctx.url, inspection_id=int(chosen), limit=1)
        if rows.empty:
            _close_review()
        else:
            review_dialog(ctx, rows.to_dict("records")[0])
    elif zoomed is not None:
        rows = q.inspections(ctx.url, inspection_id=int(zoomed), limit=1)
        if rows.empty:
            _close_zoom()
        else:
            zoom_dialog(ctx, rows.to_dict("records")[0])
    with tabs[1]:
        p_chart(ctx)
    components.footer(ctx, started)
