"""``run_child``: the child process never outlives its parent (SIGTERM, SIGINT, SIGKILL)."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

WAIT_S = 30  # generous bound for a loaded machine; the fix ends the child in well under a second


def _parent(child_code: str, grace_s: float = 10.0) -> subprocess.Popen:
    """A Python process that runs ``child_code`` through ``run_child`` and exits with its status."""
    code = textwrap.dedent(f"""
        import sys
        from plantpulse.pipelines.runtime.supervise import run_child
        sys.exit(run_child([sys.executable, "-c", {child_code!r}], grace_s={grace_s}))
    """)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)  # the child inherits it


def _child_of(parent: subprocess.Popen) -> psutil.Process:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for candidate in psutil.Process(parent.pid).children():
            # the parent may briefly have other children (looking up libc runs ldconfig);
            # one that has just exited is a zombie whose command line cannot be read
            try:
                is_sleeper = "sleep" in " ".join(candidate.cmdline())
            except (psutil.ZombieProcess, psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if is_sleeper:
                _wait_ready(parent)
                return candidate
        if parent.poll() is not None:
            pytest.fail(f"the parent exited with {parent.returncode} before starting its child")
        time.sleep(0.05)
    pytest.fail("the child did not start")


def _wait_ready(parent: subprocess.Popen) -> None:
    """Block until the child prints that it runs its own code: a signal that arrives while the
    interpreter is still starting was handled differently under load (the child outlived SIGINT and
    the grace period ended it with SIGKILL)."""
    assert parent.stdout is not None
    ready, _, _ = select.select([parent.stdout], [], [], WAIT_S)
    if not ready or parent.stdout.readline().strip() != b"ready":
        pytest.fail("the child did not report that it started")


def _gone(process: psutil.Process) -> bool:
    _, alive = psutil.wait_procs([process], timeout=WAIT_S)
    for leftover in alive:  # do not leave it behind whatever the outcome
        leftover.kill()
    return not alive


# SIGINT's default action restored: a suite started in the background by a shell without job
# control inherits SIGINT ignored, and so would the child, which then outlives the forwarded SIGINT.
# Short sleeps in a loop, not one long one: Python runs a signal's handler between bytecodes or when
# a sleep is interrupted, and a SIGINT that lands after ``print`` returns but before the sleep's
# system call starts interrupts nothing, so ``time.sleep(600)`` slept on with KeyboardInterrupt
# pending (on a loaded machine the test, woken by "ready", can signal within that window).
_NAP = "print('ready', flush=True)\nwhile True:\n    time.sleep(0.05)"
SLEEPER = "import signal, time\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n" + _NAP
STUBBORN = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + _NAP


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_signal_to_the_parent_stops_the_child(signum: int) -> None:
    parent = _parent(SLEEPER)
    child = _child_of(parent)
    assert child.pid != parent.pid and psutil.Process(child.pid).ppid() == parent.pid
    parent.send_signal(signum)
    assert _gone(child)
    assert parent.wait(WAIT_S) == 128 + signum  # the child was ended by the forwarded signal


def test_sigkill_of_the_parent_takes_the_child_along() -> None:
    parent = _parent(SLEEPER)
    child = _child_of(parent)
    parent.kill()
    parent.wait(WAIT_S)
    assert _gone(child)


def test_child_ignoring_sigterm_is_killed_after_the_grace_period() -> None:
    parent = _parent(STUBBORN, grace_s=0.5)
    child = _child_of(parent)
    parent.terminate()
    assert _gone(child)
    assert parent.wait(WAIT_S) == 128 + signal.SIGKILL


def test_exit_status_of_the_child_is_passed_on() -> None:
    from plantpulse.pipelines.runtime.supervise import run_child

    assert run_child([sys.executable, "-c", "raise SystemExit(7)"]) == 7
