"""Find the PlantPulse, Streamlit and OPC-UA processes a test session started and left running.

A child is found while it is still a descendant of the test process; an orphan (its parent was
killed, so it was re-parented to init) is found by the session token every process started by the
tests inherits in its environment (``SESSION_MARK``; tests that build an environment from scratch
should copy it).
"""

from __future__ import annotations

from pathlib import Path

import psutil

SESSION_MARK = "PYTEST_PLANTPULSE_SESSION"
WATCHED = ("plantpulse.pipelines.cli.main", "plantpulse.app.serve", "streamlit", "opcua-sim")
WATCHED_PROGRAMS = ("plantpulse", "streamlit")


def is_watched(cmdline: list[str]) -> bool:
    """True for the command lines of PlantPulse services, Streamlit and the OPC-UA simulator."""
    if cmdline and Path(cmdline[0]).name in WATCHED_PROGRAMS:
        return True
    return any(word in arg for arg in cmdline for word in WATCHED)


def _marked(token: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(SESSION_MARK) == token:
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def leftovers(token: str, root: psutil.Process | None = None) -> list[psutil.Process]:
    """Live watched processes below ``root`` (default: this process) or carrying ``token``."""
    root = root or psutil.Process()
    candidates = {p.pid: p for p in (*root.children(recursive=True), *_marked(token)) if p.pid != root.pid}
    out = []
    for process in candidates.values():
        try:
            if process.status() != psutil.STATUS_ZOMBIE and is_watched(process.cmdline()):
                out.append(process)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
    return out


def describe(processes: list[psutil.Process]) -> str:
    lines = []
    for process in processes:
        try:
            lines.append(f"pid {process.pid}: {' '.join(process.cmdline())[:200]}")
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            lines.append(f"pid {process.pid}")
    return "; ".join(lines)
