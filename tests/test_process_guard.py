"""The test session's process guard finds children and orphans it started, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import psutil
import pytest
from process_guard import SESSION_MARK, is_watched, leftovers

SLEEP = "import time; time.sleep(120)"


@pytest.mark.parametrize(("cmdline", "watched"), [
    (["/venv/bin/python", "-m", "plantpulse.app.serve", "--server.port", "1"], True),
    (["/venv/bin/python", "-m", "plantpulse.pipelines.cli.main", "opcua-sim"], True),
    (["/venv/bin/plantpulse", "dashboard"], True),
    (["/venv/bin/streamlit", "run", "main.py"], True),
    (["/venv/bin/python", "-c", "print(1)"], False),
    (["/usr/bin/chromium", "--headless"], False),
], ids=["serve", "cli", "script", "streamlit", "other-python", "browser"])
def test_watched_command_lines(cmdline: list[str], watched: bool) -> None:
    assert is_watched(cmdline) is watched


def _wait_for(token: str, pid: int) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if pid in {p.pid for p in leftovers(token)}:
            return True
        time.sleep(0.1)
    return False


def test_finds_a_child_and_an_orphan_of_this_session() -> None:
    token = os.environ[SESSION_MARK]  # the session's own: should this test fail, the guard still sees them
    spawner = (f"import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', {SLEEP!r}, 'plantpulse.app.serve'],"
               " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(p.pid)")
    child = subprocess.Popen([sys.executable, "-c", SLEEP, "plantpulse.app.serve"])
    started = [psutil.Process(child.pid)]
    try:
        orphan_pid = int(subprocess.run([sys.executable, "-c", spawner], capture_output=True, text=True,
                                        check=True, timeout=60).stdout)
        started.append(psutil.Process(orphan_pid))
        assert started[1].ppid() != os.getpid()  # re-parented: no longer our descendant
        assert _wait_for(token, child.pid) and _wait_for(token, orphan_pid)
        assert not leftovers(uuid.uuid4().hex, started[1])  # another session's token, nothing below it
    finally:
        for process in started:
            process.kill()
        psutil.wait_procs(started, timeout=30)
        child.wait(30)
