"""Timestamps for people: UTC inside PlantPulse, the plant's time zone on screen.

Charts get *naive* local wall-clock times on purpose: Vega-Lite shows a naive timestamp as it
is, whereas an aware one is shifted into the browser's zone, which may not be the plant's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

MISSING = "—"


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def micros_to_utc(values: pd.Series | np.ndarray) -> pd.Series:
    """int64 µs since the Unix epoch (N,) -> aware UTC timestamps (N,)."""
    return pd.Series(pd.to_datetime(np.asarray(values, dtype="int64"), unit="us", utc=True))


def as_utc_series(values: pd.Series) -> pd.Series:
    """Aware or naive-UTC datetimes (N,) -> aware UTC timestamps (N,)."""
    series = pd.to_datetime(values, utc=True)
    return series if isinstance(series, pd.Series) else pd.Series(series)


def to_local_naive(values: pd.Series, zone_name: str) -> pd.Series:
    """UTC datetimes (N,) -> naive wall-clock times in ``zone_name`` (N,), for charts."""
    series = as_utc_series(values)
    return series.dt.tz_convert(zone_name).dt.tz_localize(None)


def format_ts(value: datetime | pd.Timestamp | None, zone_name: str, seconds: bool = False) -> str:
    """``2025-01-01 14:00 CET``; missing values as an em dash."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or pd.isna(value):
        return MISSING
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(UTC)
    local = stamp.tz_convert(zone_name)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def format_age(value: datetime | pd.Timestamp | None, now: datetime | None = None) -> str:
    """How long ago ``value`` was, rounded the way people say it: ``3 min ago``, ``2 d ago``."""
    if value is None or pd.isna(value):
        return "never"
    now = now or datetime.now(UTC)
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(UTC)
    seconds = (pd.Timestamp(now) - stamp).total_seconds()
    if seconds < 0:
        return "in the future"
    for limit, unit, size in ((90, "s", 1), (90 * 60, "min", 60), (48 * 3600, "h", 3600),
                              (60 * 86_400, "d", 86_400)):
        if seconds < limit:
            return f"{seconds / size:.0f} {unit} ago"
    if seconds < 730 * 86_400:
        return f"{seconds / (30.4 * 86_400):.0f} mo ago"
    return f"{seconds / (365.25 * 86_400):.1f} y ago"


def duration(micros: int) -> str:
    """A bucket width as people say it: ``5 ms``, ``1 s``, ``15 min``, ``6 h``, ``1 d``."""
    seconds = micros / 1e6
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:.0f} {unit}"
    return f"{micros / 1000:g} ms" if 0 < micros < 1_000_000 else f"{seconds:g} s"


def zone_label(zone_name: str, at: datetime | None = None) -> str:
    """``Europe/Berlin (CET)``: the zone name people configure plus the abbreviation they read."""
    at = at or datetime.now(UTC)
    abbreviation = at.astimezone(ZoneInfo(zone_name)).strftime("%Z")
    return zone_name if abbreviation in ("", zone_name) else f"{zone_name} ({abbreviation})"
