"""`plantpulse demo` ends with the dashboard answering on localhost."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
