"""Altair charts for the pages: pure functions from small DataFrames to charts.

Layered charts get their data once, at the top (``_layer(..., data=frame)``): layers that each
carry the frame make Altair hash it (through its text repr) to merge them, a tenth of a second
per chart.

Times arrive as naive wall-clock times in the plant's zone (see ``timefmt``) and axes say so.
Every chart has tooltips with units, and readable defaults: no chart junk, one accent colour.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from plantpulse.app.widgets import health

ACCENT = "#1f6feb"
BAND = "#9ecbff"
FAULT = "#d1242f"
HEIGHT = 220


def _layer(*charts: alt.Chart, data: pd.DataFrame) -> alt.LayerChart:
    """``alt.layer(*charts, data=data)`` typed as what it returns here.

    ``alt.layer`` turns the result into a ``FacetChart`` only when every layer carries the same
    row/column/facet encoding; no layer in this module has one, so it is always a ``LayerChart``.
    """
    return alt.LayerChart(layer=list(charts), data=data)


def _time_axis(zone_name: str) -> alt.X:
    return alt.X("time:T", title=f"time ({zone_name})", axis=alt.Axis(format="%d %b %H:%M",
                                                                        labelOverlap=True))


def fleet_rul(frame: pd.DataFrame) -> alt.LayerChart:
    """Horizontal RUL bars with their 80 % interval, coloured by health; one row per asset.

    ``frame``: asset, rul_mean, rul_lower, rul_upper, rul_unit, state.
    """
    scale = alt.Scale(domain=list(health.STATES), range=[health.COLORS[s] for s in health.STATES])
    unit = frame["rul_unit"].iloc[0] if len(frame) else ""
    y = alt.Y("asset:N", sort=alt.EncodingSortField("rul_mean", order="ascending"), title=None,
              axis=alt.Axis(labelLimit=260, labelOverlap=False))
    tips = [alt.Tooltip("asset:N"), alt.Tooltip("rul_mean:Q", format=",.0f", title=f"RUL ({unit})"),
            alt.Tooltip("rul_lower:Q", format=",.0f", title="lower (10 %)"),
            alt.Tooltip("rul_upper:Q", format=",.0f", title="upper (90 %)"), alt.Tooltip("state:N")]
    base = alt.Chart().encode(y=y, tooltip=tips)
    interval = base.mark_rule(strokeWidth=2, opacity=0.5).encode(
        x=alt.X("rul_lower:Q", title=f"remaining useful life ({unit}), 80 % interval"),
        x2="rul_upper:Q", color=alt.Color("state:N", scale=scale, legend=None))
    point = base.mark_point(filled=True, size=70).encode(
        x="rul_mean:Q", color=alt.Color("state:N", scale=scale, title="health"))
    return _layer(interval, point, data=frame).properties(height=max(120, 24 * len(frame)))


def survival(frame: pd.DataFrame, x_title: str, color: str | None = "group") -> alt.Chart:
    """Step-wise survival curve(s): ``time``, ``survival`` (+ ``color`` column for several)."""
    enc = {"x": alt.X("time:Q", title=x_title),
           "y": alt.Y("survival:Q", title="probability still running", scale=alt.Scale(domain=[0, 1]),
                      axis=alt.Axis(format="%")),
           "tooltip": [alt.Tooltip("time:Q", format=",.0f", title=x_title),
                       alt.Tooltip("survival:Q", format=".0%")]}
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=None)
    else:
        enc["color"] = alt.value(ACCENT)
    return alt.Chart(frame).mark_line(interpolate="step-after", strokeWidth=2, point=True).encode(
        **enc).properties(height=HEIGHT)


def rul_curve(frame: pd.DataFrame) -> alt.Chart:
    """Model survival P(RUL > t) from quantiles: ``time``, ``survival`` (linear between points)."""
    return alt.Chart(frame).mark_line(point=True, color=ACCENT).encode(
        x=alt.X("time:Q", title="time from now"),
        y=alt.Y("survival:Q", title="P(RUL > t)", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        tooltip=[alt.Tooltip("time:Q", format=",.0f"), alt.Tooltip("survival:Q", format=".0%")],
    ).properties(height=HEIGHT)


def sensor_panel(frame: pd.DataFrame, label: str, zone_name: str,
                 anomalies: pd.DataFrame | None = None) -> alt.LayerChart:
    """One channel: bucket mean line over its min–max band, zoomable in time.

    ``frame``: time, mean, min, max, n. ``anomalies``: start, end of windows whose anomaly score
    crossed the threshold, shaded red.
    """
    base = alt.Chart().encode(x=_time_axis(zone_name))
    y_axis = alt.Axis(format=",.5~g", title=label)
    band = base.mark_area(color=BAND, opacity=0.45).encode(
        y=alt.Y("min:Q", axis=y_axis, scale=alt.Scale(zero=False)), y2="max:Q")
    line = base.mark_line(color=ACCENT, strokeWidth=1.4).encode(
        y="mean:Q",
        tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("mean:Q", format=",.5~g"),
                 alt.Tooltip("min:Q", format=",.5~g"), alt.Tooltip("max:Q", format=",.5~g"),
                 alt.Tooltip("n:Q", title="readings")])
    layers = [band, line]
    if anomalies is not None and len(anomalies):
        layers.insert(0, alt.Chart(anomalies).mark_rect(color=FAULT, opacity=0.12).encode(
            x="start:T", x2="end:T"))
    zoom = alt.selection_interval(bind="scales", encodings=["x"])
    return _layer(*layers, data=frame).add_params(zoom).properties(height=170)


def trajectory(frame: pd.DataFrame, zone_name: str, unit: str) -> alt.LayerChart:
    """RUL over time: mean line with its interval band; ``time``, ``rul_mean/lower/upper``."""
    base = alt.Chart().encode(x=_time_axis(zone_name))
    band = base.mark_area(color=BAND, opacity=0.5).encode(
        y=alt.Y("rul_lower:Q", title=f"RUL ({unit})"), y2="rul_upper:Q")
    line = base.mark_line(color=ACCENT, point=True).encode(
        y="rul_mean:Q", tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"),
                                 alt.Tooltip("rul_mean:Q", format=",.0f", title=f"RUL ({unit})"),
                                 alt.Tooltip("rul_lower:Q", format=",.0f", title="lower"),
                                 alt.Tooltip("rul_upper:Q", format=",.0f", title="upper")])
    return _layer(band, line, data=frame).properties(height=HEIGHT)


def fault_probs(frame: pd.DataFrame, zone_name: str) -> alt.Chart:
    """Fault probabilities over time, one line per fault: ``time``, ``fault``, ``probability``."""
    return alt.Chart(frame).mark_line(point=True).encode(
        x=_time_axis(zone_name),
        y=alt.Y("probability:Q", title="probability", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("fault:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), "fault:N",
                 alt.Tooltip("probability:Q", format=".1%")],
    ).properties(height=HEIGHT)


def shares(frame: pd.DataFrame) -> alt.Chart:
    """Horizontal bars of routing shares: ``group``, ``name``, ``share`` (0..1 within a group)."""
    return alt.Chart(frame).mark_bar(color=ACCENT).encode(
        x=alt.X("share:Q", title="share of routed tokens", axis=alt.Axis(format="%")),
        y=alt.Y("name:N", title=None, sort="-x"),
        row=alt.Row("group:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
        tooltip=["group:N", "name:N", alt.Tooltip("share:Q", format=".1%")],
    ).properties(height=alt.Step(16)).resolve_scale(y="independent")


def timeline(frame: pd.DataFrame, zone_name: str) -> alt.Chart:
    """Maintenance events on a time line, one lane per kind: ``time``, ``kind``, ``label``."""
    return alt.Chart(frame).mark_tick(thickness=3, size=22).encode(
        x=_time_axis(zone_name),
        y=alt.Y("kind:N", title=None),
        color=alt.Color("kind:N", legend=None),
        tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), "kind:N", "label:N"],
    ).properties(height=alt.Step(34))


def p_chart(frame: pd.DataFrame, period_title: str) -> alt.LayerChart:
    """Reject-rate p-chart: ``period`` (in time order), ``p``, ``n``, ``center``, ``ucl``, ``lcl``,
    ``out`` (above the upper limit), ``group``. Limits may be missing for the first points."""
    base = alt.Chart().encode(x=alt.X("period:O", title=period_title, sort=None,
                                           axis=alt.Axis(labelAngle=-40, labelLimit=200)))
    limits = base.mark_line(strokeDash=[5, 3], color="#8c959f", interpolate="step").encode(
        y="ucl:Q")
    lower = base.mark_line(strokeDash=[5, 3], color="#8c959f", interpolate="step").encode(y="lcl:Q")
    center = base.mark_line(color="#57606a").encode(y="center:Q")
    points = base.mark_line(point=alt.OverlayMarkDef(size=60, filled=True), color=ACCENT).encode(
        y=alt.Y("p:Q", title="reject rate", axis=alt.Axis(format="%")),
        tooltip=["period:O", "group:N", alt.Tooltip("p:Q", format=".1%", title="reject rate"),
                 alt.Tooltip("n:Q", title="inspected"), alt.Tooltip("ucl:Q", format=".1%"),
                 alt.Tooltip("lcl:Q", format=".1%")])
    out = base.transform_filter("datum.out").mark_point(size=160, color=FAULT, shape="diamond",
                                                         filled=True).encode(y="p:Q")
    return _layer(limits, lower, center, points, out, data=frame).properties(height=HEIGHT)


def metric_bars(frame: pd.DataFrame) -> alt.Chart:
    """Model metrics side by side: ``model``, ``metric``, ``value``."""
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("value:Q", title=None), y=alt.Y("model:N", title=None),
        color=alt.Color("model:N", legend=None),
        row=alt.Row("metric:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
        tooltip=["model:N", "metric:N", alt.Tooltip("value:Q", format=",.4g")],
    ).properties(height=alt.Step(18)).resolve_scale(x="independent")


def job_history(frame: pd.DataFrame, zone_name: str) -> alt.Chart:
    """Job runs as bars from start to end, coloured by status: ``job``, ``start``, ``end``, ``status``."""
    scale = alt.Scale(domain=["succeeded", "running", "failed", "queued"],
                      range=["#2da44e", ACCENT, FAULT, "#8c959f"])
    return alt.Chart(frame).mark_bar(size=14, cornerRadius=2).encode(
        x=alt.X("start:T", title=f"time ({zone_name})",
                axis=alt.Axis(format="%d %b %H:%M", labelOverlap=True, tickCount=6)),
        x2="end:T", y=alt.Y("job:N", title=None),
        color=alt.Color("status:N", scale=scale, legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["job:N", "status:N", alt.Tooltip("start:T", format="%Y-%m-%d %H:%M:%S"),
                 alt.Tooltip("end:T", format="%Y-%m-%d %H:%M:%S"), "rows:Q"],
    ).properties(height=alt.Step(30))
