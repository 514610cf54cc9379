"""Run a long-lived child process (the Streamlit server) that cannot outlive its parent.

``plantpulse dashboard`` and ``plantpulse demo`` start the server as a child process. Left to
itself, that child keeps serving when the parent is stopped: SIGTERM ends the parent only.
:func:`run_child` closes both ways out:

- the child runs in its own process group, and SIGTERM, SIGINT and SIGHUP sent to the parent
  are forwarded to that group; a child still running ``grace_s`` seconds later is killed;
- on Linux the child asks the kernel for a parent-death signal (``PR_SET_PDEATHSIG``), so even
  a parent killed with SIGKILL, which no handler sees, takes the child along. The kernel ties
  that signal to the thread that started the child: call from the main thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence

log = logging.getLogger(__name__)

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _pdeathsig_setter(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the kernel SIGKILL the child when its parent dies (Linux).

    libc is looked up here, in the parent: loading a library between fork and exec is unsafe.
    The check of ``getppid`` closes the race of a parent that died before ``prctl`` ran.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    prctl = libc.prctl

    def set_pdeathsig() -> None:
        if prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            os._exit(126)  # cannot guarantee the child dies with us: refuse to start it
        if os.getppid() != parent_pid:
            os._exit(126)

    return set_pdeathsig


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass  # already gone


def exit_status(returncode: int) -> int:
    """A shell-style exit status: 128 + N for a child ended by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def run_child(command: Sequence[str], env: Mapping[str, str] | None = None, grace_s: float = 10.0) -> int:
    """Run ``command`` until it exits; returns its exit status. See the module docstring."""
    process = subprocess.Popen(  # a fixed argument list, no shell
        list(command), env=None if env is None else dict(env), stdin=subprocess.DEVNULL,
        process_group=0, preexec_fn=_pdeathsig_setter(os.getpid()))
    received: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        _signal_group(process, signum)

    handlers = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED} if handlers else {}
    try:
        return exit_status(_wait(process, received, grace_s))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if process.poll() is None:  # we are leaving on an exception: the child goes too
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _wait(process: subprocess.Popen, received: list[int], grace_s: float) -> int:
    """The child's return code; after a forwarded signal it gets ``grace_s`` before SIGKILL."""
    deadline: float | None = None
    while True:
        try:
            return process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
        if received and deadline is None:
            deadline = time.monotonic() + grace_s
        if deadline is not None and time.monotonic() > deadline:
            name = process.args[0] if isinstance(process.args, list | tuple) else process.args
            log.warning("%s did not stop within %g s of %s; killing it.", name, grace_s,
                        signal.Signals(received[0]).name)
            _signal_group(process, signal.SIGKILL)
            deadline = float("inf")
