"""Time in PlantPulse: timezone-aware UTC everywhere, integer microseconds since the Unix epoch
where compact storage or fast arithmetic needs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; naive datetimes are rejected because their zone is unknown."""
    if value.tzinfo is None:
        msg = f"Timestamp {value.isoformat()} has no time zone; PlantPulse stores UTC only."
        raise ValueError(msg)
    return value.astimezone(UTC)


def to_micros(value: datetime) -> int:
    delta = as_utc(value) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


def micros_to_datetime64(values: np.ndarray) -> np.ndarray:
    """int64 µs since epoch (N,) -> datetime64[us] (N,), UTC without a zone attached."""
    return np.asarray(values, dtype=np.int64).astype("datetime64[us]")
