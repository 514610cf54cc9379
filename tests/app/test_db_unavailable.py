"""The dashboard with a database that is away: one line naming it (password hidden) and the fix."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pages import TIMEOUT_S, texts
from streamlit.testing.v1 import AppTest

import plantpulse.app
from plantpulse.app import auth

MAIN = Path(plantpulse.app.__file__).resolve().parent / "main.py"
PASSWORD = "s3cret-pw"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_database_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    for name in ("PLANTPULSE_DASHBOARD__PASSWORD", "PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD", "PLANTPULSE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(auth, "bind_address", lambda: "127.0.0.1")  # served on loopback: no sign-in
    monkeypatch.setenv("PLANTPULSE_HOME", str(tmp_path))
    monkeypatch.setenv("PLANTPULSE_DATABASE_URL", f"postgresql://plant:{PASSWORD}@127.0.0.1:{port}/plant")
    at = AppTest.from_file(str(MAIN), default_timeout=TIMEOUT_S).run()
    assert not at.exception
    [error] = at.error
    assert "\n" not in error.value and PASSWORD not in texts(at)
    assert error.value.startswith(f"cannot connect to postgresql://plant:***@127.0.0.1:{port}/plant: "
                                  "connection refused")
