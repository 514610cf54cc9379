"""Stopping ``plantpulse dashboard`` stops its Streamlit server too: SIGTERM, and even SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

WAIT_S = 60  # a generous bound for a loaded machine; the server stops within a second or two


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, psutil.Process]]:
    """``plantpulse dashboard`` serving an empty home, and its server process."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTPULSE_") or k.startswith("PLANTPULSE_TEST")}
    env["PLANTPULSE_HOME"] = str(tmp_path / "home")
    parent = subprocess.Popen([sys.executable, "-m", "plantpulse.pipelines.cli.main", "dashboard", "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = None
    try:
        deadline = time.monotonic() + WAIT_S
        while not _healthy(port):
            if parent.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the dashboard did not start (exit status {parent.poll()})")
            time.sleep(0.3)
        # only the server: a helper that has just exited (a zombie not yet reaped) is not it
        [server] = [child for child in psutil.Process(parent.pid).children()
                    if child.status() != psutil.STATUS_ZOMBIE]
        yield parent, server
    finally:
        for process in (parent, *([server] if server else [])):
            try:
                process.kill()
            except (ProcessLookupError, psutil.NoSuchProcess):
                pass
        parent.wait(WAIT_S)


def _stopped(server: psutil.Process) -> bool:
    _, alive = psutil.wait_procs([server], timeout=WAIT_S)
    return not alive


def test_sigterm_stops_the_server(dashboard: tuple[subprocess.Popen, psutil.Process]) -> None:
    parent, server = dashboard
    parent.send_signal(signal.SIGTERM)
    assert _stopped(server), f"the Streamlit server {server.pid} outlived its parent"
    parent.wait(WAIT_S)


def test_sigkill_of_the_parent_stops_the_server(dashboard: tuple[subprocess.Popen, psutil.Process]) -> None:
    parent, server = dashboard
    parent.kill()
    parent.wait(WAIT_S)
    assert _stopped(server), f"the Streamlit server {server.pid} outlived its parent"
