"""Engines, sessions and migrations.

``Database(url)`` stores the URL; the engine is created on first use. SQLite gets WAL journaling
(readers never block the writer), foreign keys and a busy timeout; PostgreSQL URLs are routed to
the psycopg 3 driver, which the bulk loader needs for COPY.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from plantpulse.data.core.errors import ConfigError, PlantPulseError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger(__name__)
logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines (plugins, migrations) are noise; ours say what ran


def normalize_url(url: str) -> str:
    """Route ``postgresql://`` to psycopg 3 and create the folder of an SQLite file."""
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        msg = f"Database URL {url!r} is not a SQLAlchemy URL (e.g. sqlite:///plant.db or postgresql://host/db)."
        raise ConfigError(msg) from err
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    elif parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        msg = f"Unsupported database {parsed.get_backend_name()!r}; use SQLite or PostgreSQL."
        raise ConfigError(msg)
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def driver_connection(connection: Connection) -> Any:
    """The driver's own connection (sqlite3 or psycopg) under ``connection``, for bulk I/O."""
    raw = connection.connection.driver_connection
    if raw is None:  # SQLAlchemy types it optional: a pool entry can lose its driver connection
        msg = ("The database connection has no driver connection (it was closed or invalidated); "
               "open a new session and run the operation again.")
        raise PlantPulseError(msg)
    return raw


class SchemaOutOfDateError(PlantPulseError):
    """The database is not at the schema version this code needs."""


class Database:
    """A database reachable at ``url``: engine, sessions, migrations."""

    def __init__(self, url: str) -> None:
        self.url = url

    @cached_property
    def engine(self) -> Engine:
        url = normalize_url(self.url)
        engine = create_engine(url, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        return engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @cached_property
    def _sessions(self) -> sessionmaker[Session]:
        return sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any exception."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", normalize_url(self.url).replace("%", "%%"))
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (creates the database tables on first run)."""
        before = self.current_revision()
        with self.engine.begin() as connection:
            cfg = self.alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
        after = self.current_revision()
        if after != before:
            log.info("Database schema upgraded from %s to %s.", before or "empty", after)

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self.alembic_config()).get_current_head()

    def require_current(self) -> None:
        """Fail clearly when the schema is missing or older than the code."""
        current, head = self.current_revision(), self.head_revision()
        if current != head:
            msg = (
                f"Database {make_url(normalize_url(self.url)).render_as_string()} is at schema "
                f"revision {current or 'none'}, this PlantPulse needs {head}. "
                "Run `plantpulse db upgrade`."
            )
            raise SchemaOutOfDateError(msg)

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
