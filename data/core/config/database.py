"""How long PlantPulse waits for its database: the ``[database]`` settings section.

A database that is away, or a connection that accepts but never answers, must fail in seconds
with a clear message rather than hang a job or a dashboard page for minutes. Environment:
``PLANTPULSE_DATABASE__CONNECT_TIMEOUT_S=5``, ``PLANTPULSE_DATABASE__STATEMENT_TIMEOUT_S=600``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DatabaseSettings(BaseModel):
    """Connect, statement and lock-wait timeouts of every database connection."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect_timeout_s: float = Field(
        10.0, ge=2, description="PostgreSQL: give up connecting after this (libpq's minimum is 2 s)")
    statement_timeout_s: float = Field(
        300.0, ge=0, description="PostgreSQL: the server cancels a statement running longer; 0 = no limit")
    busy_timeout_s: float = Field(
        30.0, ge=0, description="SQLite: wait this long for another writer's lock before failing")
