"""Weld reject rate on a p-chart per weld cell and shift (3-sigma limits by default).

Each image's newest inspection counts once. A subgroup is one cell in one shift (the image's
``shift`` when the camera recorded it, else the shift its capture time falls in, plant time).
The centre line p̄ is the reject fraction of the cell's previous ``baseline`` subgroups; the
limits of subgroup i are p̄ ± k·sqrt(p̄(1 − p̄)/nᵢ). The newest subgroup of each cell is judged;
above the upper limit is a finding (below the lower one is good news, not an alert).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plantpulse.data.core.config.jobs import AlertSettings
from plantpulse.data.store.schema import Asset, WeldImage, WeldInspection
from plantpulse.pipelines.alerts.rules import Finding


@dataclass(frozen=True, slots=True)
class Subgroup:
    cell_id: int
    cell: str
    label: str  # e.g. "2026-03-02 shift 2 (14:00)"
    start: datetime
    n: int
    rejects: int

    @property
    def p(self) -> float:
        return self.rejects / self.n if self.n else 0.0


@dataclass(frozen=True, slots=True)
class ChartPoint:
    subgroup: Subgroup
    centre: float
    lcl: float
    ucl: float
    baseline_n: int

    @property
    def above(self) -> bool:
        return self.subgroup.p > self.ucl


def shift_label(when: datetime, starts: tuple[int, ...], zone: ZoneInfo) -> tuple[str, datetime]:
    """The shift ``when`` falls in: its label and start (a night shift belongs to the day it began)."""
    local = when.astimezone(zone)
    before = [h for h in starts if h <= local.hour]
    day = local.date() if before else local.date() - timedelta(days=1)
    hour = before[-1] if before else starts[-1]
    index = starts.index(hour) + 1
    start = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
    return f"{day.isoformat()} shift {index} ({hour:02d}:00)", start


def subgroups(session: Session, starts: tuple[int, ...], zone: ZoneInfo) -> dict[int, list[Subgroup]]:
    """Cell id -> its subgroups in time order."""
    newest = select(func.max(WeldInspection.id)).group_by(WeldInspection.image_id).scalar_subquery()
    rows = session.execute(
        select(WeldImage.asset_id, Asset.name, WeldImage.captured_at, WeldInspection.created_at, WeldImage.shift,
               WeldInspection.verdict)
        .join(WeldImage, WeldImage.id == WeldInspection.image_id).join(Asset, Asset.id == WeldImage.asset_id)
        .where(WeldInspection.id.in_(newest))).all()
    counts: dict[tuple[int, str], list] = defaultdict(lambda: [None, None, 0, 0])
    for cell_id, cell, captured, inspected, shift, verdict in rows:
        when = captured or inspected
        label, start = shift_label(when, starts, zone)
        if shift:
            label = f"{start.date().isoformat()} shift {shift}"
        entry = counts[(cell_id, label)]
        entry[0], entry[1] = cell, min(start, entry[1]) if entry[1] else start
        entry[2] += 1
        entry[3] += verdict == "reject"
    out: dict[int, list[Subgroup]] = defaultdict(list)
    for (cell_id, label), (cell, start, n, rejects) in counts.items():
        out[cell_id].append(Subgroup(cell_id, cell, label, start, n, rejects))
    return {cell: sorted(groups, key=lambda g: g.start) for cell, groups in out.items()}


def judge(groups: list[Subgroup], sigma: float, baseline: int) -> ChartPoint | None:
    """The newest subgroup against the centre line of the ones before it (None: too little history)."""
    if len(groups) < 3:
        return None
    current, past = groups[-1], groups[-1 - baseline : -1]
    n = sum(g.n for g in past)
    centre = sum(g.rejects for g in past) / n
    half = sigma * math.sqrt(centre * (1 - centre) / current.n)
    return ChartPoint(current, centre, max(0.0, centre - half), min(1.0, centre + half), len(past))


def judged(point: ChartPoint | None, min_inspections: int) -> bool:
    """A shift is judged when it has 2 earlier shifts and at least ``min_inspections`` inspections."""
    return point is not None and point.subgroup.n >= min_inspections


def flagged(point: ChartPoint | None, min_inspections: int) -> bool:
    """The rule alerts fire on: a judged shift whose reject rate is above the upper control limit."""
    return point is not None and judged(point, min_inspections) and point.above


def weld_findings(session: Session, cfg: AlertSettings, timezone: str) -> tuple[list[Finding], list[ChartPoint]]:
    """Findings for cells whose newest shift is out of control, and every judged point."""
    findings, points = [], []
    for groups in subgroups(session, cfg.shift_starts, ZoneInfo(timezone)).values():
        point = judge(groups, cfg.pchart_sigma, cfg.pchart_baseline_subgroups)
        if point is None or not judged(point, cfg.pchart_min_inspections):
            continue
        points.append(point)
        if flagged(point, cfg.pchart_min_inspections):
            findings.append(_finding(point, cfg))
    return findings, points


def chart_points(session: Session, shift_starts: tuple[int, ...], zone: ZoneInfo, sigma: float,
                 baseline: int, min_inspections: int) -> dict[str, list[dict[str, Any]]]:
    """Per weld cell, every shift with its limits and the rule's verdict, for the dashboard's chart.

    Each shift is judged as :func:`weld_findings` judges the newest one (against the previous
    ``baseline`` shifts); limits are None without 2 earlier shifts.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for cell_groups in subgroups(session, tuple(shift_starts), zone).values():
        rows = []
        for i, group in enumerate(cell_groups):
            point = judge(cell_groups[: i + 1], sigma, baseline)
            rows.append({"cell": group.cell, "period": group.label, "start": group.start, "n": group.n,
                         "rejects": group.rejects, "p": group.p,
                         "center": point.centre if point else None, "ucl": point.ucl if point else None,
                         "lcl": point.lcl if point else None, "judged": judged(point, min_inspections),
                         "out": flagged(point, min_inspections)})
        out[cell_groups[0].cell] = rows
    return out


def _finding(point: ChartPoint, cfg: AlertSettings) -> Finding:
    g = point.subgroup
    return Finding(
        "weld_reject_rate", "warning", g.cell_id, g.cell,
        f"{g.cell}: reject rate {g.p:.1%} ({g.rejects}/{g.n}) in {g.label} is above the upper control limit "
        f"{point.ucl:.1%} (centre {point.centre:.1%} over the previous {point.baseline_n} shifts).",
        f"Check weld cell {g.cell} now: wire feed and contact tip, shielding gas flow, electrode/torch wear, "
        "fixture alignment and the parts' fit-up; review the rejected welds of this shift.",
        {"subgroup": g.label, "inspections": g.n, "rejects": g.rejects, "p": g.p, "centre": point.centre,
         "ucl": point.ucl, "lcl": point.lcl, "sigma": cfg.pchart_sigma, "baseline_subgroups": point.baseline_n})
