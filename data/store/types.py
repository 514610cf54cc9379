"""Column types shared by the schema and the bulk loaders.

Timestamps are always timezone-aware UTC inside PlantPulse. PostgreSQL stores them as
``timestamptz``; SQLite, which has no timestamp type, as integer microseconds since the Unix
epoch, which keeps its indexes small and its range scans fast.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

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


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes: ``timestamptz`` on PostgreSQL, int64 microseconds elsewhere."""

    impl = BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(BigInteger())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return as_utc(value)
        return to_micros(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return from_micros(value)
