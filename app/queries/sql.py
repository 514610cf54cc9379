"""SQL building blocks that differ between SQLite and PostgreSQL, and the shared engine cache.

``UTCDateTime`` columns are ``timestamptz`` on PostgreSQL and int64 µs since the epoch on
SQLite, so every time expression comes in two spellings. Queries return µs as plain integers
on both engines; the pages turn them into the plant's local time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, case, func, literal, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from plantpulse.app.widgets.health import SEVERITY_RANK
from plantpulse.data.store.db import Database
from plantpulse.data.store.db_errors import describe


@lru_cache(maxsize=8)
def database(url: str) -> Database:
    """One ``Database`` (engine and connection pool) per URL for the whole server process, with
    the timeouts of the ``[database]`` settings (a page never waits minutes for a dead server)."""
    from plantpulse.data.core.config.settings import load_settings

    return Database(url, load_settings().database)


def problem(err: BaseException, url: str) -> str:
    """A database failure as the one line a page shows: what, which database (no password), the fix."""
    return describe(err, url, database(url).timeouts)


def epoch_us(column: Any, dialect: str) -> ColumnElement[int]:
    """A UTCDateTime column as µs since the Unix epoch (BIGINT) on either engine."""
    if dialect == "postgresql":
        return func.floor(func.extract("epoch", column) * 1_000_000).cast(BigInteger)
    return type_coerce(column, BigInteger)


def bucket_us(column: Any, width_us: int, dialect: str) -> ColumnElement[int]:
    """Start of the ``width_us``-wide time bucket holding each row, in µs since the epoch."""
    width = literal(int(width_us), BigInteger)
    if dialect == "postgresql":  # whole µs first: a float division by 0.001 s misplaces edge samples
        return (func.floor(epoch_us(column, dialect) / width).cast(BigInteger) * width).label("bucket")
    return ((type_coerce(column, BigInteger) // width) * width).label("bucket")


def severity_rank(column: Any) -> ColumnElement[int]:
    """An alert severity word as its rank (see ``health.SEVERITY_RANK``); unknown words -> 2."""
    return case(
        *((func.lower(column) == word, rank) for word, rank in SEVERITY_RANK.items()),
        else_=2,
    )
