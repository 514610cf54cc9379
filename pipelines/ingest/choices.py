"""Reading-option text as people type it (CLI flags, dashboard fields) into typed values.

``plantpulse ingest`` and the dashboard's upload form offer the same choices; both parse them
here, so ``--epoch``, ``--map``, ``--unit`` and friends mean the same wherever they are given.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from plantpulse.connectors.sensors.options import EPOCH_UNITS
from plantpulse.data.core.errors import ConfigError


def parse_pairs(values: Iterable[str], what: str) -> dict[str, str]:
    """``["a=1", "b = 2"]`` -> ``{"a": "1", "b": "2"}``; ``what`` names the option in errors."""
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} {value!r} must look like NAME=VALUE.")
        out[key.strip()] = rest.strip()
    return out


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time with a zone (``Z`` or an offset), or None for None."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise ConfigError(f"{value!r} is not an ISO 8601 time such as 2015-01-01T00:00:00Z.") from err
    if parsed.tzinfo is None:
        raise ConfigError(f"{value!r} needs a time zone, e.g. {value}Z.")
    return parsed


def parse_epoch(value: str | None, unit: str | None) -> tuple[datetime | None, str | None]:
    """``--epoch`` and ``--epoch-unit`` -> (the time numbers count from, their unit).

    ``--epoch s|ms|us`` (a unit, no time) is the older spelling of ``--epoch-unit`` for Unix times."""
    if value is None or not value.strip():
        return None, unit or None
    value = value.strip()
    if value in EPOCH_UNITS:
        if unit and unit != value:
            raise ConfigError(f"--epoch {value} (the older spelling of --epoch-unit {value}) contradicts "
                              f"--epoch-unit {unit}; give --epoch-unit only.")
        return None, value
    try:
        return parse_time(value), unit or None
    except ConfigError as err:
        msg = (f"--epoch {value!r} must be the time the numbers count from, in ISO 8601 with a zone "
               f"(e.g. 2024-05-01T00:00:00Z), or a unit {'|'.join(EPOCH_UNITS)} for Unix times. {err}")
        raise ConfigError(msg) from err


def parse_names(text: str | None) -> tuple[str, ...] | None:
    """``"a, b,c"`` -> ``("a", "b", "c")``; None for no text."""
    return tuple(c.strip() for c in text.split(",")) if text and text.strip() else None
