"""Engines, sessions and migrations.

``Database(url, timeouts)`` stores the URL; the engine is created on first use. SQLite gets WAL
journaling (readers never block the writer), foreign keys and a busy timeout; PostgreSQL URLs are
routed to the psycopg 3 driver, which the bulk loader needs for COPY, with a connect timeout and a
server-side statement timeout (see :class:`~plantpulse.data.core.config.database.DatabaseSettings`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Alembic logs its plugin set-up at INFO while it is imported; our own lines say what ran.
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from plantpulse.data.core.config.database import DatabaseSettings
from plantpulse.data.core.errors import ConfigError, PlantPulseError

if TYPE_CHECKING:
    from plantpulse.data.core.config.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger(__name__)


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


def _sqlite_pragmas(busy_timeout_ms: int, dbapi_connection, _record) -> None:  # DB-API objects
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.close()


def connect_args(url: URL, timeouts: DatabaseSettings) -> dict[str, object]:
    """Driver arguments that bound how long a connection or a statement may take.

    PostgreSQL: libpq's ``connect_timeout`` (a server that accepts the TCP connection but never
    answers fails after it) and ``statement_timeout`` via the startup ``options``; a value the
    URL sets itself wins. SQLite: the driver's lock wait (the PRAGMA sets the same).
    """
    if url.get_backend_name() == "sqlite":
        return {"timeout": timeouts.busy_timeout_s}
    args: dict[str, object] = {}
    if "connect_timeout" not in url.query:
        args["connect_timeout"] = max(2, math.ceil(timeouts.connect_timeout_s))
    if timeouts.statement_timeout_s > 0 and "statement_timeout" not in str(url.query.get("options", "")):
        option = f"-c statement_timeout={math.ceil(timeouts.statement_timeout_s * 1000)}"
        existing = url.query.get("options")
        args["options"] = f"{existing} {option}" if isinstance(existing, str) and existing else option
    return args


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

    def __init__(self, url: str, timeouts: DatabaseSettings | None = None) -> None:
        self.url = url
        self.timeouts = timeouts or DatabaseSettings()

    @cached_property
    def engine(self) -> Engine:
        url = make_url(normalize_url(self.url))
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args(url, self.timeouts))
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", partial(_sqlite_pragmas, self.timeouts.busy_timeout_s * 1000))
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


def open_database(settings: Settings) -> Database:
    """The configured database with its timeouts (no connection is opened yet)."""
    return Database(settings.db_url, settings.database)
