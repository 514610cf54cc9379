"""A failing database ends a command with one line (URL without password, the fix), never a hang.

Covers: nothing listening on the port, a database that does not exist, a server that accepts the
connection but never answers, a statement running past its timeout, and a database dropped while
a job runs (where recording the failure fails too, and must not replace the original error).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from plantpulse.data.core.config.database import DatabaseSettings
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.store.db import Database, open_database
from plantpulse.data.store.db_errors import DATABASE_ERRORS, describe
from plantpulse.data.store.schema import IngestBatch, JobRun
from plantpulse.pipelines.ingest.batch import OpenBatch, run_once
from plantpulse.pipelines.runtime.leases import run_job

PASSWORD = "s3cret-pw"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(tmp_path: Path, url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PLANTPULSE_") or k.startswith("PLANTPULSE_TEST")}
    clean |= {"PLANTPULSE_HOME": str(tmp_path / "home"), "PLANTPULSE_DATABASE_URL": url, **env}
    # A hang fails the test here instead of blocking the suite; the fix fails within seconds.
    return subprocess.run([sys.executable, "-m", "plantpulse.pipelines.cli.main", *args], env=clean, cwd=tmp_path,
                          capture_output=True, text=True, timeout=90)


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr[-3000:]}"
    return lines[0]


@pytest.mark.parametrize("command", [("db", "current"), ("score",), ("jobs",), ("alerts", "list")],
                         ids=["db-current", "score", "jobs", "alerts"])
def test_closed_port_is_one_line_with_the_password_hidden(tmp_path: Path, command: tuple[str, ...]) -> None:
    port = _free_port()  # bound and released: nothing listens there now
    done = _cli(tmp_path, f"postgresql://plant:{PASSWORD}@127.0.0.1:{port}/plant", *command)
    line = _one_line(done.stderr)
    assert done.returncode == 2
    assert PASSWORD not in done.stderr + done.stdout
    assert f"cannot connect to postgresql://plant:***@127.0.0.1:{port}/plant: connection refused" in line
    assert "PLANTPULSE_DATABASE_URL" in line


@pytest.mark.postgres
def test_missing_postgres_database_is_one_line(tmp_path: Path, postgres_url: str) -> None:
    name = f"pp_missing_{uuid.uuid4().hex[:10]}"
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    done = _cli(tmp_path, url, "db", "current")
    line = _one_line(done.stderr)
    assert done.returncode == 2
    assert f"database '{name}' does not exist" in line and f"createdb {name}" in line


@contextmanager
def _silent_server() -> Iterator[int]:
    """A loopback TCP server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


def test_stalled_server_fails_at_the_connect_timeout(tmp_path: Path) -> None:
    with _silent_server() as port:
        done = _cli(tmp_path, f"postgresql://plant:{PASSWORD}@127.0.0.1:{port}/plant", "db", "current",
                    PLANTPULSE_DATABASE__CONNECT_TIMEOUT_S="2")
    line = _one_line(done.stderr)
    assert done.returncode == 2 and PASSWORD not in done.stderr
    assert "no answer within the connect timeout of 2 s (database.connect_timeout_s)" in line


def test_scheduler_logs_a_database_failure_in_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from plantpulse.data.core.config.settings import load_settings
    from plantpulse.pipelines.runtime.scheduler import Scheduler

    port = _free_port()
    settings = load_settings(env={}, home=str(tmp_path / "home"), scheduler={"retries": 0},
                             database_url=f"postgresql://plant:{PASSWORD}@127.0.0.1:{port}/plant")
    with caplog.at_level("ERROR", logger="plantpulse.pipelines.runtime.scheduler"):
        assert Scheduler(settings, open_database(settings)).run_once("score") is None
    [record] = [r for r in caplog.records if r.name == "plantpulse.pipelines.runtime.scheduler"]
    message = record.getMessage()
    assert record.exc_info is None and "\n" not in message and PASSWORD not in message
    assert f"cannot connect to postgresql://plant:***@127.0.0.1:{port}/plant: connection refused" in message


def test_sqlite_busy_timeout_comes_from_the_settings(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}", DatabaseSettings(busy_timeout_s=2.5))
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
    db.dispose()


@pytest.mark.postgres
def test_statement_timeout_cancels_and_says_so(pg_database_url: str) -> None:
    db = Database(pg_database_url, DatabaseSettings(statement_timeout_s=1))
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "1s"
            with pytest.raises(OperationalError) as caught:
                conn.exec_driver_sql("SELECT pg_sleep(30)")
    finally:
        db.dispose()
    line = describe(caught.value, pg_database_url, db.timeouts)
    assert "ran longer than the statement timeout of 1 s (database.statement_timeout_s)" in line


# ---------------------------------------------------------------- failure handlers that fail too
def _database_gone(db: Database) -> None:
    """From now on every new session of ``db`` fails as if the server had vanished."""
    @contextmanager
    def gone() -> Iterator[None]:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
        yield  # pragma: no cover

    db.session = gone  # type: ignore[method-assign]  # a database whose sessions fail


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.upgrade()
    yield db
    db.dispose()


def test_ingest_keeps_its_own_error_when_recording_the_failure_fails(sqlite_db: Database) -> None:
    def work(_batch: object) -> None:
        _database_gone(sqlite_db)
        raise InputDataError("readings.csv:3: the original problem")

    with pytest.raises(InputDataError, match="the original problem"):
        run_once(sqlite_db, "csv", "readings.csv", "0" * 64, work)


def test_job_keeps_its_own_error_when_recording_the_failure_fails(sqlite_db: Database) -> None:
    def work() -> tuple[int, dict]:
        _database_gone(sqlite_db)
        raise InputDataError("the job's own problem")

    with pytest.raises(InputDataError, match="the job's own problem"):
        run_job(sqlite_db, "score", work, lease_s=60, heartbeat_s=30)


def _drop(postgres_url: str, name: str) -> None:
    import psycopg

    admin = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_database_dropped_during_an_ingest(postgres_url: str, pg_database_url: str) -> None:
    db = Database(pg_database_url)

    def work(batch: OpenBatch) -> None:
        _drop(postgres_url, make_url(pg_database_url).database)
        batch.session.execute(select(IngestBatch.id)).all()

    try:
        with pytest.raises(DATABASE_ERRORS) as caught:
            run_once(db, "csv", "readings.csv", "1" * 64, work)
    finally:
        db.dispose()
    line = describe(caught.value, pg_database_url)
    assert line.startswith("lost the connection to postgresql"), line
    assert "\n" not in line


@pytest.mark.postgres
def test_database_dropped_during_a_job(postgres_url: str, pg_database_url: str) -> None:
    db = Database(pg_database_url)

    def work() -> tuple[int, dict]:
        with db.session() as session:
            session.execute(select(JobRun.id)).all()
            _drop(postgres_url, make_url(pg_database_url).database)
            session.execute(select(JobRun.id)).all()
        return 0, {}

    try:
        with pytest.raises(DATABASE_ERRORS) as caught:
            run_job(db, "score", work, lease_s=60, heartbeat_s=30)
    finally:
        db.dispose()
    line = describe(caught.value, pg_database_url)
    assert line.startswith("lost the connection to postgresql"), line


def test_describe_hides_the_password_and_keeps_one_line() -> None:
    err = OperationalError("SELECT 1\nFROM x", {}, Exception("FATAL:  something odd\nDETAIL: more\n\tand more"))
    line = describe(err, f"postgresql://plant:{PASSWORD}@db.example:5432/plant")
    assert PASSWORD not in line and "plant:***@db.example" in line and "\n" not in line
