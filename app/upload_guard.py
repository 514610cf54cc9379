"""Uploads only from signed-in engineers, bounded per session, and released once ingested.

Streamlit accepts a file on ``PUT /_stcore/upload_file/<session>/<id>`` from any open session,
whether or not its page shows an upload widget, and keeps it in memory until the session ends.
So a visitor on the sign-in page could fill the server's memory. PlantPulse's server (started by
``plantpulse dashboard`` through :mod:`plantpulse.app.serve`) stores uploads in
:class:`GuardedUploadedFileManager`, which accepts a file only for a session the dashboard has
marked as signed in with the engineer role (:func:`admit_session`), and at most
``ingest.max_uploads_per_session`` files and ``ingest.max_session_upload_mb`` in all per session.
Everything else is refused before it is stored. After an upload is ingested the Data page calls
:func:`release` so its bytes are not kept until the session ends.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

log = logging.getLogger("plantpulse.dashboard.uploads")
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_files: int = 20
    max_total_bytes: int = 2048 * MB


@dataclass(slots=True)
class _Usage:
    allowed: bool = False
    files: int = 0
    total_bytes: int = 0


@dataclass
class UploadGate:
    """Which sessions may upload and how much each has uploaded (thread-safe, process-wide)."""

    limits: UploadLimits = field(default_factory=UploadLimits)
    _sessions: dict[str, _Usage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, session_id: str) -> None:
        with self._lock:
            self._sessions.setdefault(session_id, _Usage()).allowed = True

    def revoke(self, session_id: str) -> None:
        with self._lock:
            usage = self._sessions.get(session_id)
            if usage is not None:
                usage.allowed = False

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def admit(self, session_id: str, size: int) -> tuple[int, str] | None:
        """Count an upload of ``size`` bytes; (HTTP status, reason) when it is refused."""
        with self._lock:
            usage = self._sessions.get(session_id)
            if usage is None or not usage.allowed:
                return 403, "the session is not signed in as an engineer"
            limits = self.limits
            if usage.files + 1 > limits.max_files:
                return 413, (f"the session already uploaded {usage.files} files "
                             f"(ingest.max_uploads_per_session = {limits.max_files})")
            if usage.total_bytes + size > limits.max_total_bytes:
                return 413, (f"the session's uploads would exceed {limits.max_total_bytes / MB:g} MB "
                             "(ingest.max_session_upload_mb)")
            usage.files += 1
            usage.total_bytes += size
            return None

    def usage(self, session_id: str) -> tuple[int, int]:
        """Files and bytes ``session_id`` has uploaded so far."""
        with self._lock:
            usage = self._sessions.get(session_id) or _Usage()
            return usage.files, usage.total_bytes


GATE = UploadGate()


def _refuse(status: int, reason: str) -> Exception:
    from starlette.exceptions import HTTPException  # the server Streamlit runs on

    return HTTPException(status_code=status, detail=f"Upload refused: {reason}.")


class GuardedUploadedFileManager(MemoryUploadedFileManager):
    """Streamlit's in-memory upload store, storing only what :data:`GATE` admits."""

    gate: UploadGate = GATE

    def add_file(self, session_id: str, file: UploadedFileRec) -> None:
        refusal = self.gate.admit(session_id, len(file.data))
        if refusal is not None:
            status, reason = refusal
            log.warning("upload of %d bytes refused for session %s: %s", len(file.data),
                        session_id, reason)
            raise _refuse(status, reason)
        super().add_file(session_id, file)

    def remove_session_files(self, session_id: str) -> None:
        super().remove_session_files(session_id)
        self.gate.forget(session_id)


def install(limits: UploadLimits) -> None:
    """Make the Streamlit server about to start in this process use the guarded upload store."""
    from streamlit.web.server import server

    GATE.limits = limits
    # Server() reads this module global when it is created. Item assignment on the module's
    # __dict__ (its attributes) because mypy refuses rebinding a name bound to a class.
    vars(server)["MemoryUploadedFileManager"] = GuardedUploadedFileManager


def limits_from(settings: Any) -> UploadLimits:
    ingest = settings.ingest
    return UploadLimits(ingest.max_uploads_per_session, int(ingest.max_session_upload_mb * MB))


def _script_context() -> Any:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return get_script_run_ctx()


def admit_session(can_upload: bool) -> None:
    """Let this session upload (a signed-in engineer) or not (anyone else)."""
    ctx = _script_context()
    if ctx is None:
        return
    (GATE.allow if can_upload else GATE.revoke)(ctx.session_id)


def release(file: Any, manager: Any = None, session_id: str | None = None) -> None:
    """Drop an ingested upload from the server's memory and close it."""
    if manager is None or session_id is None:
        ctx = _script_context()
        if ctx is not None:
            manager, session_id = ctx.uploaded_file_mgr, ctx.session_id
    remove = getattr(manager, "remove_file", None)
    file_id = getattr(file, "file_id", None)
    if remove is not None and file_id is not None and session_id is not None:
        remove(session_id, file_id)
    file.close()
