"""Work orders reach the webhook although it fails: retried with back-off, kept for the next run."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from scoring_support import MODEL, make_fleet, register_fixed
from sqlalchemy import select

from plantpulse.data.core.config.settings import Settings, load_settings
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import Alert
from plantpulse.pipelines.cli.main import cli
from plantpulse.pipelines.score.job import ScoreRequest, run_scoring


@dataclass
class Receiver:
    """What the flaky webhook saw: every request, and the bodies it accepted."""

    answers: list[int]  # status per request, in order; 201 once the list is used up
    requests: list[tuple[str, dict]] = field(default_factory=list)
    accepted: list[dict] = field(default_factory=list)


@contextmanager
def flaky_webhook(*answers: int) -> Iterator[tuple[str, Receiver]]:
    """A webhook on 127.0.0.1 that answers ``answers`` (e.g. 503, 503) and then accepts (201)."""
    receiver = Receiver(list(answers))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the name http.server calls
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            receiver.requests.append((self.headers.get("Idempotency-Key", ""), body))
            status = receiver.answers.pop(0) if receiver.answers else 201
            if status == 201:
                receiver.accepted.append(body)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/orders", receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'plant.db'}")
    database.upgrade()
    yield database
    database.dispose()


def _settings(tmp_path: Path, url: str, retries: int) -> Settings:
    return load_settings(env={}, home=str(tmp_path / "home"),
                         alerts={"webhook_url": url, "webhook_retries": retries, "webhook_backoff_s": 0,
                                 "webhook_timeout_s": 5, "workorder_dir": str(tmp_path / "wo")})


def _alerts(db: Database) -> list[Alert]:
    with db.session() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def test_failed_posts_are_retried_within_the_run(db: Database, tmp_path: Path) -> None:
    register_fixed(db, tmp_path, rul_scale=1.0)
    make_fleet(db, [5])
    with flaky_webhook(503, 502) as (url, receiver):
        run_scoring(_settings(tmp_path, url, retries=3), db, ScoreRequest(MODEL))
    [alert] = _alerts(db)
    assert len(receiver.requests) == 3 and [b["alert_id"] for b in receiver.accepted] == [alert.id]
    assert {key for key, _ in receiver.requests} == {f"plantpulse-alert-{alert.id}"}
    assert (alert.delivery_status, alert.delivery_attempts, alert.delivery_error) == ("delivered", 1, None)
    assert alert.delivered_at is not None


def test_undelivered_work_order_is_sent_by_the_next_run(db: Database, tmp_path: Path) -> None:
    register_fixed(db, tmp_path, rul_scale=1.0)
    make_fleet(db, [5])
    with flaky_webhook(503, 503, 503) as (url, receiver):
        settings = _settings(tmp_path, url, retries=1)
        run_scoring(settings, db, ScoreRequest(MODEL))
        [alert] = _alerts(db)
        assert (alert.delivery_status, alert.delivery_attempts) == ("pending", 1)
        assert alert.delivery_error.startswith("HTTP 503") and receiver.accepted == []
        again = run_scoring(settings, db, ScoreRequest(MODEL))  # no new data: nothing scored, still sent
    assert again.predictions == 0
    [alert] = _alerts(db)
    assert (alert.delivery_status, alert.delivery_attempts, alert.delivery_error) == ("delivered", 2, None)
    assert [b["alert_id"] for b in receiver.accepted] == [alert.id] and len(receiver.requests) == 4


def test_receiver_down_keeps_every_work_order_pending(db: Database, tmp_path: Path) -> None:
    register_fixed(db, tmp_path, rul_scale=1.0)
    make_fleet(db, [5, 6])
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run_scoring(_settings(tmp_path, f"http://127.0.0.1:{port}/orders", retries=1), db, ScoreRequest(MODEL))
    first, second = _alerts(db)
    assert (first.delivery_status, first.delivery_attempts) == ("pending", 1)
    assert "no answer after 2 tries" in first.delivery_error
    assert (second.delivery_status, second.delivery_attempts) == ("pending", 0)  # not tried: receiver down


def test_refused_work_order_is_not_resent_automatically(db: Database, tmp_path: Path) -> None:
    register_fixed(db, tmp_path, rul_scale=1.0)
    make_fleet(db, [5])
    with flaky_webhook(422) as (url, receiver):
        settings = _settings(tmp_path, url, retries=3)
        run_scoring(settings, db, ScoreRequest(MODEL))
        run_scoring(settings, db, ScoreRequest(MODEL))
        [alert] = _alerts(db)
        assert (alert.delivery_status, alert.delivery_attempts, len(receiver.requests)) == ("refused", 1, 1)
        assert alert.delivery_error.startswith("HTTP 422")
        env = {"PLANTPULSE_HOME": str(tmp_path / "home"), "PLANTPULSE_DATABASE_URL": db.url,
               "PLANTPULSE_ALERTS__WEBHOOK_URL": url}
        done = CliRunner().invoke(cli, ["alerts", "export", "--webhook"], env=env, catch_exceptions=False)
    assert done.exit_code == 0 and "1 sent to the webhook" in done.output
    [alert] = _alerts(db)
    assert (alert.delivery_status, alert.delivery_attempts) == ("delivered", 2)
