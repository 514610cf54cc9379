"""An asset's health state, as the overview shows it.

The dashboard does not invent its own thresholds: scoring raises alerts by the configured rules
(RUL below a threshold, fault probability, anomaly score), so an asset's state is the worst
severity among its open alerts, or "ok" when a prediction exists and nothing is open.
"""

from __future__ import annotations

import math

CRITICAL, WARNING, OK, UNKNOWN = "critical", "warning", "ok", "no prediction"
STATES = (CRITICAL, WARNING, OK, UNKNOWN)
COLORS = {CRITICAL: "#d1242f", WARNING: "#e09b13", OK: "#2da44e", UNKNOWN: "#8c959f"}
# Shapes for places without colour (the fleet table): readable without colour vision, too.
SHAPES = {CRITICAL: "▲", WARNING: "◆", OK: "●", UNKNOWN: "○"}
# Markdown badges; a plain dot renders in every font, unlike colour emoji.
BADGES = {CRITICAL: ":red[●]", WARNING: ":orange[●]", OK: ":green[●]", UNKNOWN: ":gray[○]"}

# Severity words scoring rules may use, by rank (higher is worse). Unknown words count as warning.
SEVERITY_RANK = {"info": 1, "low": 1, "warning": 2, "medium": 2, "high": 3, "critical": 3,
                 "alarm": 3}


def severity_rank(severity: str | None) -> int:
    if not severity:
        return 0
    return SEVERITY_RANK.get(severity.lower(), 2)


def state(worst_rank: int | float | None, has_prediction: bool) -> str:
    """Health from the worst open alert's rank (0 or None: none open) and whether it was scored."""
    rank = 0 if worst_rank is None or (isinstance(worst_rank, float) and math.isnan(worst_rank)) \
        else int(worst_rank)
    if rank >= 3:
        return CRITICAL
    if rank >= 1:
        return WARNING
    return OK if has_prediction else UNKNOWN


def format_rul(mean: float | None, lower: float | None, upper: float | None, unit: str) -> str:
    """``87 (62–110) cycles``; ``—`` when the model gives no RUL."""
    if mean is None or _nan(mean):
        return "—"
    text = f"{mean:,.0f}"
    if lower is not None and upper is not None and not (_nan(lower) or _nan(upper)):
        text += f" ({lower:,.0f}–{upper:,.0f})"
    return f"{text} {unit}".rstrip()


def format_interval(lower: float | None, upper: float | None) -> str:
    """``62–110``; empty when either end is missing."""
    if lower is None or upper is None or _nan(lower) or _nan(upper):
        return ""
    return f"{lower:,.0f}–{upper:,.0f}"


def _nan(value: float) -> bool:
    return isinstance(value, float) and math.isnan(value)
