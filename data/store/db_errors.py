"""Database failures as one line a person can act on.

Drivers report a refused connection, a missing database or a dropped connection as multi-line
messages wrapped in SQLAlchemy's own text (the SQL, its parameters, a link). Entry points (the
CLI, the scheduler, the dashboard) turn any of them into one line with :func:`describe`: what
failed, on which database (the URL with its password hidden) and what to do about it.
"""

from __future__ import annotations

import re
import sqlite3

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from plantpulse.data.core.config.database import DatabaseSettings
from plantpulse.data.core.errors import PlantPulseError

#: Exceptions that mean "the database failed": SQLAlchemy's wrapper and the raw drivers (the bulk
#: loader talks to psycopg directly).
DATABASE_ERRORS: tuple[type[BaseException], ...] = (DBAPIError, psycopg.Error, sqlite3.Error)

URL_HINT = "set PLANTPULSE_DATABASE_URL (or --db)"


class DatabaseUnavailableError(PlantPulseError):
    """The database could not be reached, refused the work, or went away during it."""


def hide_password(url: str) -> str:
    """``url`` with its password replaced by ``***`` (the text itself when it is not a URL)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<database URL that cannot be parsed>"


def driver_error(err: BaseException) -> BaseException:
    """The driver's own exception inside a SQLAlchemy wrapper (else ``err`` itself)."""
    orig = getattr(err, "orig", None)
    return orig if isinstance(orig, BaseException) else err


def first_line(err: BaseException) -> str:
    """The driver's message on one line, without the SQL SQLAlchemy appends."""
    text = str(driver_error(err)).strip()
    text = re.sub(r"^connection failed: connection to server at [^:]+ failed: ", "", text)
    text = text.split("\n", 1)[0].replace("\t", " ")
    return re.sub(r"\s+", " ", re.sub(r"^FATAL:\s*", "", text)).strip() or type(err).__name__


def brief(err: BaseException) -> str:
    """``Type: message`` on one line for a database error; ``str(err)`` for anything else."""
    if isinstance(err, DATABASE_ERRORS):
        return f"{type(driver_error(err)).__name__}: {first_line(err)}"
    return str(err)


def _is_disconnect(err: BaseException, text: str) -> bool:
    if isinstance(err, DBAPIError) and err.connection_invalidated:
        return True
    return any(word in text for word in (
        "terminating connection", "server closed the connection", "connection is lost",
        "connection is closed", "consuming input failed", "connection already closed", "ssl syscall error",
        "the connection is bad",
    ))


def describe(err: BaseException, url: str, timeouts: DatabaseSettings | None = None) -> str:
    """One line saying what went wrong with the database at ``url`` and how to fix it."""
    t = timeouts or DatabaseSettings()
    where = hide_password(url)
    text = first_line(err)
    low = text.lower()
    orig = driver_error(err)
    backend = where.split(":", 1)[0].split("+", 1)[0]
    if isinstance(orig, psycopg.errors.ConnectionTimeout) or "timeout expired" in low:
        return (f"cannot connect to {where}: no answer within the connect timeout of {t.connect_timeout_s:g} s "
                "(database.connect_timeout_s) — check the host and port, and that the server is healthy; "
                f"{URL_HINT}")
    if "connection refused" in low:
        return (f"cannot connect to {where}: connection refused — is PostgreSQL running there? Start it, or "
                f"{URL_HINT}")
    if match := re.search(r'database "([^"]+)" does not exist', text):
        return (f"cannot connect to {where}: database {match.group(1)!r} does not exist — create it "
                f"(createdb {match.group(1)}) and run `plantpulse db upgrade`, or {URL_HINT}")
    if ("password authentication failed" in low or "no password supplied" in low
            or re.search(r'role "[^"]*" does not exist', low)):
        return f"cannot connect to {where}: the server refused the user or password ({text}) — {URL_HINT}"
    if "could not translate host name" in low or "name or service not known" in low:
        return f"cannot connect to {where}: unknown host ({text}) — {URL_HINT}"
    if isinstance(orig, psycopg.errors.QueryCanceled) and "statement timeout" in low:
        return (f"a statement on {where} ran longer than the statement timeout of {t.statement_timeout_s:g} s "
                "(database.statement_timeout_s) and was cancelled — raise the timeout if the work is that "
                "long, or check the server for locks and load")
    if _is_disconnect(err, low):
        return (f"lost the connection to {where} ({text}) — the server stopped or the database was dropped; "
                "the interrupted work was rolled back: run it again when the database is back")
    if "unable to open database file" in low:
        return f"cannot open the SQLite database {where}: {text} — check the folder exists and is writable, or {URL_HINT}"
    if "database is locked" in low:
        return (f"{where} stayed locked by another writer for longer than {t.busy_timeout_s:g} s "
                "(database.busy_timeout_s) — wait for the other job to finish, or raise the timeout")
    if "no such table" in low or re.search(r"relation .* does not exist", low):
        return f"{where} has no PlantPulse schema ({text}) — run `plantpulse db upgrade`"
    if isinstance(orig, psycopg.OperationalError) and backend == "postgresql":
        return f"cannot use {where}: {text} — check the server, or {URL_HINT}"
    return f"database error on {where}: {type(orig).__name__}: {text} — run with -v for the details"
