"""Asset detail: sensor history with zoom and anomaly overlay, RUL trajectory and survival curve,
fault probabilities over time, routing shares, maintenance history, recommended action and a
work-order export. Sensor history and the latest prediction refresh themselves."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from plantpulse.app.context import AppContext
from plantpulse.app.queries import asset as q
from plantpulse.app.queries import fleet
from plantpulse.app.widgets import asset as views
from plantpulse.app.widgets import charts, components, health, survival
from plantpulse.app.widgets.timefmt import duration, format_age, format_ts, to_local_naive

DEFAULT_CHANNELS = 4


def _choose_asset(ctx: AppContext) -> dict[str, Any] | None:
    names = q.asset_names(ctx.url)
    if not names:
        components.empty("No assets yet. Load the demo or upload sensor data on the Data page.",
                         "plantpulse demo")
        return None
    wanted = st.query_params.get("asset")
    index = names.index(wanted) if wanted in names else 0
    name = st.selectbox("Asset", names, index=index, key=f"asset-pick-{wanted}")
    if name != wanted:
        st.query_params["asset"] = name
    return q.asset_info(ctx.url, name)


def _summary(ctx: AppContext, info: dict[str, Any], latest: dict[str, Any] | None, unit: str) -> None:
    row = fleet.fleet_table(ctx.url, ctx.normal_classes).set_index("asset_id").loc[info["id"]]
    state = row["state"]
    st.markdown(f"### {health.BADGES[state]} {info['name']}  \n"
                f":gray[{info['asset_type']} · {info['site'] or 'no site'} · {info['line'] or 'no line'}"
                f"{' · ' + info['model'] if info['model'] else ''}]")
    cols = st.columns(4)
    rul = health.format_rul(latest["rul_mean"], None, None, unit) if latest else "—"
    interval = health.format_interval(latest["rul_lower"], latest["rul_upper"]) if latest else ""
    cols[0].metric("Remaining useful life", rul, delta=f"80 %: {interval} {unit}" if interval else None,
                   delta_color="off", delta_arrow="off", border=True,
                   help="mean of the latest prediction and its 80 % interval")
    name, prob = fleet.top_finding(latest.get("fault_probs") if latest else None, ctx.normal_classes)
    # the name goes on the small second line (as the RUL card's interval): a fault name as the big value
    # or in the label is cut off in a quarter-width card
    cols[1].metric("Top fault", f"{prob:.0%}" if name else "—", delta=name or None, delta_color="off",
                   delta_arrow="off", border=True,
                   help=f"{name}, probability {prob:.0%} in the latest prediction" if name else None)
    score = latest.get("anomaly_score") if latest else None
    cols[2].metric("Anomaly score", "—" if score is None or pd.isna(score) else f"{score:.2f}",
                   border=True)
    cols[3].metric("Last data", format_age(row["last_data"]), border=True,
                   help=format_ts(row["last_data"], ctx.zone))


def _latest(preds: pd.DataFrame) -> dict[str, Any] | None:
    if preds.empty:
        return None
    last = preds.iloc[-1].to_dict()
    last["rul"] = (last["rul_mean"], last["rul_lower"], last["rul_upper"])
    return last


def _sensor_history(ctx: AppContext, info: dict[str, Any], preds: pd.DataFrame) -> None:
    span = q.time_span(ctx.url, info["id"])
    chans = q.channels(ctx.url, info["id"])
    if span is None or chans.empty:
        components.empty("No sensor readings for this asset yet. Upload a sensor file on the Data page.")
        return
    names = {int(c): f"{n} ({u})" if u else n for c, n, u in chans.itertuples(index=False)}
    overview = q.sensor_buckets(ctx.url, info["id"], tuple(names), span[0], span[1], 60)
    default = views.most_changed(overview, DEFAULT_CHANNELS)
    left, right = st.columns([1, 1])
    chosen = left.multiselect("Channels", list(names), default=default, format_func=lambda c: names[c],
                              key=f"channels-{info['id']}")
    window = right.segmented_control("Range", list(views.RANGES), default="Last week",
                                     key=f"range-{info['id']}") or "All data"
    if not chosen:
        st.caption("Choose at least one channel.")
        return
    start = views.range_start(span[0], span[1], window)
    buckets = q.sensor_buckets(ctx.url, info["id"], tuple(chosen), start, span[1])
    frame = views.sensor_long(buckets, chans, ctx.zone)
    limit = ctx.settings.alerts.anomaly_limit(str(preds["model_kind"].iloc[-1])) if len(preds) else 0.0
    hot = views.anomaly_windows(preds, limit, ctx.zone) if len(preds) else None
    grid = st.columns(2)
    present = set(frame["label"])
    shown = [names[c] for c in chosen if names[c] in present]
    for i, label in enumerate(shown):  # in the order the channels were chosen
        part = frame[frame["label"] == label]
        grid[i % 2].altair_chart(charts.sensor_panel(part, label, ctx.zone, hot), width="stretch")
    st.caption(f"Line: mean per {duration(buckets.attrs.get('width_us', 0))}; band: min–max. "
               "Drag to pan, scroll to zoom."
               + (f" Red spans: anomaly score above {limit:g}." if hot is not None and len(hot) else ""))


def _life(ctx: AppContext, preds: pd.DataFrame, latest: dict[str, Any] | None, unit: str) -> None:
    scored = preds[preds["rul_mean"].notna()] if len(preds) else preds
    if scored.empty:
        components.empty("No RUL predictions for this asset yet.", "plantpulse score")
        return
    left, right = st.columns([3, 2])
    frame = scored.assign(time=to_local_naive(scored["window_end"], ctx.zone).to_numpy())
    left.markdown("**RUL trajectory**")
    left.altair_chart(charts.trajectory(frame, ctx.zone, unit), width="stretch")
    assert latest is not None, "latest is None only when preds is empty, and scored rows exist here"
    curve = survival.rul_survival(latest.get("rul_quantiles"), *latest["rul"])
    right.markdown("**Survival curve of the latest prediction**")
    right.altair_chart(charts.rul_curve(curve).encode(x=alt.X("time:Q", title=f"{unit} from now")),
                       width="stretch")


def _faults(ctx: AppContext, preds: pd.DataFrame, latest: dict[str, Any] | None) -> None:
    frame = views.fault_long(preds, ctx.zone, ctx.normal_classes) if len(preds) else None
    if frame is None or frame.empty:
        components.empty("This asset's model gives no fault probabilities.")
    else:
        st.altair_chart(charts.fault_probs(frame, ctx.zone), width="stretch")
    shares = views.routing_shares(latest.get("routing") if latest else None)
    st.markdown("**What drove the latest prediction** (modalities and experts it was routed to)")
    if shares.empty:
        st.caption("The model that made the latest prediction reports no routing (only the mixture-"
                   "of-experts model does).")
    else:
        st.altair_chart(charts.shares(shares), width="stretch")


def _maintenance(ctx: AppContext, info: dict[str, Any]) -> None:
    events = q.maintenance(ctx.url, info["id"])
    if events.empty:
        components.empty("No maintenance history for this asset. Upload a maintenance-log export on "
                         "the Data page.")
        return
    line = views.timeline_frame(events, ctx.zone)
    if len(line):
        st.altair_chart(charts.timeline(line, ctx.zone), width="stretch")
    table = events.assign(ts=[format_ts(t, ctx.zone) for t in events["ts"]])
    st.dataframe(table.rename(columns={"ts": "time"}), hide_index=True, width="stretch",
                 column_config={"text": st.column_config.TextColumn("text", width="large")})


def _work_orders(url: str, asset_id: int, asset_name: str) -> tuple[str, int]:
    """The asset's open alerts as work orders, written by the work-order job's own CSV rule."""
    from plantpulse.app.queries.sql import database
    from plantpulse.pipelines.alerts.workorders import open_orders_csv

    with database(url).session() as session:
        return open_orders_csv(session, asset_id, asset_name)


def _action(ctx: AppContext, info: dict[str, Any], latest: dict[str, Any] | None) -> None:
    alerts = fleet.alert_list(ctx.url, asset_id=info["id"])
    st.subheader("Recommended action")
    components.show_flash()
    components.alert_list(ctx, alerts, key=f"asset-{info['id']}")
    csv_text, count = _work_orders(ctx.url, info["id"], info["name"])
    st.download_button(f"Export {count} work order{'s' if count != 1 else ''} (CSV)", csv_text,
                       file_name=f"work-orders-{info['name']}.csv", mime="text/csv", disabled=not count,
                       icon=":material/download:", key=f"wo-{info['id']}", on_click="ignore",
                       help="One line per open alert, in the columns `plantpulse alerts export` writes.")


def live(ctx: AppContext, info: dict[str, Any]) -> None:
    """Latest prediction, alerts and recommended action: refreshed every few seconds."""
    preds = q.predictions(ctx.url, info["id"])
    latest = _latest(preds)
    unit = fleet.rul_unit(info["attributes"], latest.get("model_config") if latest else None)
    _summary(ctx, info, latest, unit)
    _action(ctx, info, latest)


def history(ctx: AppContext, info: dict[str, Any]) -> None:
    """Charts over time; refreshed only while "Follow live data" is on, so zooming is not undone."""
    preds = q.predictions(ctx.url, info["id"])
    latest = _latest(preds)
    unit = fleet.rul_unit(info["attributes"], latest.get("model_config") if latest else None)
    st.subheader("Sensor history")
    _sensor_history(ctx, info, preds)
    tabs = st.tabs(["Remaining life", "Faults and routing", "Maintenance history"])
    with tabs[0]:
        _life(ctx, preds, latest, unit)
    with tabs[1]:
        _faults(ctx, preds, latest)
    with tabs[2]:
        _maintenance(ctx, info)


def render(ctx: AppContext) -> None:
    started = components.header("Asset detail", "Sensor history, predictions and maintenance of one asset.")
    info = _choose_asset(ctx)
    if info is not None:
        st.fragment(run_every=ctx.refresh_s)(live)(ctx, info)
        follow = st.toggle("Follow live data", value=False, key="asset-follow",
                           help=f"Redraw the charts every {ctx.refresh_s:g} s (resets the zoom).")
        st.fragment(run_every=ctx.refresh_s if follow else None)(history)(ctx, info)
    components.footer(ctx, started)
