"""Plant overview: every asset's health, RUL with interval, top fault, open alerts, last data;
the fleet's survival curve; the alert list with acknowledge. The live part refreshes itself."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from plantpulse.app.context import AppContext
from plantpulse.app.queries import fleet
from plantpulse.app.widgets import charts, components, health, survival
from plantpulse.app.widgets.timefmt import format_age, format_ts

FILTERS = (("site", "Site"), ("line", "Line"), ("asset_type", "Asset type"))
RUL_CHART_ASSETS = 20  # a readable chart; the table lists every asset


def filter_fleet(frame: pd.DataFrame, chosen: dict[str, list[str]]) -> pd.DataFrame:
    """Rows whose site/line/type is among the chosen values (an empty choice keeps all)."""
    keep = pd.Series(True, index=frame.index)
    for column, values in chosen.items():
        if values:
            keep &= frame[column].isin(values)
    return frame[keep]


def display_table(frame: pd.DataFrame, zone_name: str) -> pd.DataFrame:
    """The fleet as people read it: state with icon, RUL and interval with unit, local times."""
    return pd.DataFrame({
        "state": [f"{health.SHAPES[s]} {s}" for s in frame["state"]],
        "asset": frame["asset"],
        "type": frame["asset_type"],
        "line": frame["line"],
        "RUL": frame["rul_mean"],
        "80 % interval": [f"{_num(lo)}–{_num(hi)} {u}" if pd.notna(lo) and pd.notna(hi) else "—"
                          for lo, hi, u in zip(frame["rul_lower"], frame["rul_upper"],
                                               frame["rul_unit"], strict=True)],
        "top fault": frame["top_fault"].fillna("—"),
        "probability": frame["top_fault_prob"],
        "anomaly": frame["anomaly_score"],
        "open alerts": frame["open_alerts"],
        "last data": [format_ts(t, zone_name) for t in frame["last_data"]],
        "age": [format_age(t) for t in frame["last_data"]],
        "model": frame["model"],
    })


def _num(value: float) -> str:
    return f"{value:,.0f}"


TABLE_CONFIG = {
    "RUL": st.column_config.NumberColumn("RUL", format="%.0f", help="predicted remaining useful life"),
    "probability": st.column_config.ProgressColumn("probability", format="percent", min_value=0,
                                                   max_value=1),
    "anomaly": st.column_config.NumberColumn("anomaly", format="%.2f",
                                             help="distance from healthy behaviour; higher is worse"),
    "open alerts": st.column_config.NumberColumn("open alerts", format="%d"),
}


def _filters(frame: pd.DataFrame) -> dict[str, list[str]]:
    columns = st.columns(len(FILTERS))
    chosen = {}
    for column, (field, label) in zip(columns, FILTERS, strict=True):
        options = sorted(v for v in frame[field].dropna().unique() if v)
        chosen[field] = column.multiselect(label, options, placeholder=f"All {label.lower()}s",
                                           key=f"overview-{field}")
    return chosen


def _kpis(frame: pd.DataFrame, n_alerts: int) -> None:
    counts = frame["state"].value_counts()
    newest = frame["last_data"].max() if frame["last_data"].notna().any() else None
    cols = st.columns([1, 1, 1, 1, 1.5])
    cols[0].metric("Assets", len(frame), border=True)
    cols[1].metric(f"{health.BADGES[health.CRITICAL]} Critical", int(counts.get(health.CRITICAL, 0)),
                   border=True)
    cols[2].metric(f"{health.BADGES[health.WARNING]} Warning", int(counts.get(health.WARNING, 0)),
                   border=True)
    cols[3].metric("Open alerts", n_alerts, border=True)
    cols[4].metric("Newest data", format_age(newest), border=True)


def worst_first(frame: pd.DataFrame) -> pd.DataFrame:
    """Critical assets first, then warnings, then the rest; shortest RUL first within each."""
    rank = frame["state"].map({s: i for i, s in enumerate(health.STATES)})
    return frame.assign(_rank=rank).sort_values(["_rank", "rul_mean", "asset"], na_position="last") \
        .drop(columns="_rank").reset_index(drop=True)


def live(ctx: AppContext, chosen: dict[str, list[str]]) -> None:
    """The part of the page that refreshes every ``dashboard.refresh_seconds``."""
    frame = worst_first(filter_fleet(fleet.fleet_table(ctx.url, ctx.normal_classes), chosen))
    alerts = fleet.alert_list(ctx.url)
    if not alerts.empty:
        alerts = alerts[alerts["asset"].isin(frame["asset"]) | alerts["asset"].isna()]
    _kpis(frame, int((alerts["status"] == "open").sum()) if not alerts.empty else 0)
    components.show_flash()
    st.subheader("Fleet")
    event = st.dataframe(display_table(frame, ctx.zone), hide_index=True,
                         column_config=TABLE_CONFIG, on_select="rerun", selection_mode="single-row",
                         key="fleet-table", height=min(38 + 35 * len(frame), 460))
    st.caption("Select a row to open the asset.")
    rows = event.selection.rows if event is not None else []
    if rows:
        components.go_to("asset", asset=str(frame.iloc[rows[0]]["asset"]))
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.subheader("Remaining useful life")
        scored = frame[frame["rul_mean"].notna()]
        for unit, part in scored.groupby("rul_unit"):
            urgent = part.nsmallest(RUL_CHART_ASSETS, "rul_lower")
            st.altair_chart(charts.fleet_rul(urgent), width="stretch")
            if len(part) > len(urgent):
                st.caption(f"The {len(urgent)} assets of {len(part)} ({unit}) whose interval reaches "
                           "lowest; all are in the table above.")
        if scored.empty:
            components.empty("No predictions yet.", "plantpulse score")
    with right:
        st.subheader("Alerts")
        components.alert_list(ctx, alerts, key="overview")


def fleet_survival(ctx: AppContext, chosen: dict[str, list[str]]) -> None:
    failures, spans, groups = fleet.survival_inputs(ctx.url)
    table = fleet.fleet_table(ctx.url, ctx.normal_classes)
    keep = set(filter_fleet(table, chosen)["asset_id"]) if not table.empty else set()
    spans = {k: v for k, v in spans.items() if k in keep}
    curves = survival.fleet_curves(survival.asset_lives(failures, spans, groups))
    st.subheader("Fleet survival (Kaplan–Meier)")
    if curves.empty:
        components.empty("No failures are recorded for these assets, so there is no survival curve "
                         "yet. Upload a maintenance log with failure records on the Data page.")
        return
    st.altair_chart(charts.survival(curves, "hours since the last failure (or first data)"),
                    width="stretch")
    summary = curves.groupby("group")[["lives", "failures"]].first().reset_index()
    st.caption("Lives between failures, censored at each asset's last reading. " + "; ".join(
        f"{r.group}: {r.failures} failures in {r.lives} lives" for r in summary.itertuples()))


def render(ctx: AppContext) -> None:
    started = components.header("Plant overview", "Health, remaining life and alerts of every asset.")
    table = fleet.fleet_table(ctx.url, ctx.normal_classes)
    if table.empty:
        components.empty("No assets yet. Load the demo or upload sensor data on the Data page.",
                         "plantpulse demo")
        components.footer(ctx, started)
        return
    chosen = _filters(table)
    st.fragment(run_every=ctx.refresh_s)(live)(ctx, chosen)
    fleet_survival(ctx, chosen)
    components.footer(ctx, started)
