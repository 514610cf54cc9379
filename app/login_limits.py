"""Failed sign-ins counted per user name and per client, across every session of the server.

A Streamlit session is cheap to open, so a limit kept in ``st.session_state`` only slows down one
tab. This store lives in the server process and is shared by all sessions (thread-safe: Streamlit
runs each session's script in its own thread). ``max_failures`` failed attempts for one name, or
from one client address, within ``window_s`` lock that name or client out for ``lockout_s``;
while locked, attempts are refused without checking the password. A success does not clear the
count: otherwise anyone holding the viewer password could reset their count between guesses at
the engineer password. The lockout is logged with the name and client, never the password.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("plantpulse.dashboard.auth")
Clock = Callable[[], float]
_MAX_KEYS = 100_000  # forget the oldest entries beyond this many names and clients


@dataclass(frozen=True, slots=True)
class LoginLimits:
    max_failures: int = 5
    window_s: float = 900.0
    lockout_s: float = 900.0


@dataclass(slots=True)
class _Record:
    failures: deque[float]
    locked_until: float = 0.0


class LoginLimiter:
    """Counts failed sign-ins by name and by client; ``clock`` is injectable for tests."""

    def __init__(self, limits: LoginLimits, clock: Clock = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._records: dict[tuple[str, str], _Record] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(name: str, client: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("name", name.strip().casefold()[:64]), ("client", client)

    def locked_for(self, name: str, client: str) -> float:
        """Seconds until ``name`` and ``client`` may try again (0.0: they may now)."""
        now = self._clock()
        with self._lock:
            waits = [record.locked_until - now for key in self._keys(name, client)
                     if (record := self._records.get(key)) is not None]
        return max([0.0, *waits])

    def record_failure(self, name: str, client: str) -> bool:
        """Count one failed attempt; True when it locks the name or the client out."""
        now = self._clock()
        limits = self.limits
        locked: list[str] = []
        with self._lock:
            self._forget_old(now)
            for key in self._keys(name, client):
                record = self._records.setdefault(key, _Record(deque()))
                record.failures.append(now)
                while record.failures and record.failures[0] <= now - limits.window_s:
                    record.failures.popleft()
                if len(record.failures) >= limits.max_failures and record.locked_until <= now:
                    record.locked_until = now + limits.lockout_s
                    record.failures.clear()
                    locked.append(key[0])
        if locked:
            log.warning("dashboard sign-in locked for %.0f s after %d failed attempts within %.0f s "
                        "(locked: %s): user name %r, client %s", limits.lockout_s,
                        limits.max_failures, limits.window_s, " and ".join(locked), name, client)
        return bool(locked)

    def _forget_old(self, now: float) -> None:
        """Drop entries with nothing left to remember, and the oldest beyond ``_MAX_KEYS``."""
        horizon = now - self.limits.window_s
        stale = [key for key, record in self._records.items()
                 if record.locked_until <= now and (not record.failures or record.failures[-1] <= horizon)]
        for key in stale:
            del self._records[key]
        excess = len(self._records) - _MAX_KEYS
        if excess > 0:
            for key in sorted(self._records, key=lambda k: self._last_seen(self._records[k]))[:excess]:
                del self._records[key]

    @staticmethod
    def _last_seen(record: _Record) -> float:
        return max(record.locked_until, record.failures[-1] if record.failures else 0.0)


_shared: dict[LoginLimits, LoginLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(limits: LoginLimits) -> LoginLimiter:
    """The server process's limiter for these limits (one per distinct configuration)."""
    with _shared_lock:
        limiter = _shared.get(limits)
        if limiter is None:
            limiter = _shared[limits] = LoginLimiter(limits)
        return limiter
