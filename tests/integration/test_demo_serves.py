"""`plantpulse demo` ends with the dashboard answering on localhost."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode("utf-8", "replace")


def test_demo_serves_the_dashboard(tmp_path: Path) -> None:
    port = _free_port()
    env = dict(os.environ, PLANTPULSE_HOME=str(tmp_path / "home"))
    env.pop("PLANTPULSE_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "plantpulse.pipelines.cli.main", "demo", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"demo exited with {process.returncode}:\n{process.stdout.read()}")
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/_stcore/health")
                if status == 200:
                    break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("the dashboard did not answer within 10 minutes")
        status, page = _get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "streamlit" in page.lower()
        servers = psutil.Process(process.pid).children(recursive=True)
        assert servers, "the dashboard server runs as a child of `plantpulse demo`"
        process.terminate()  # what a service manager or CI does: the server must stop with the demo
        _, alive = psutil.wait_procs(servers, timeout=60)
        assert not alive, f"the dashboard server outlived `plantpulse demo`: {[p.pid for p in alive]}"
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """Stop the demo and anything it started, whatever state the test left them in."""
    try:
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    process.terminate()
    _, alive = psutil.wait_procs(family, timeout=20)
    for leftover in alive:
        leftover.kill()
    psutil.wait_procs(alive, timeout=20)
    process.wait(timeout=20)
