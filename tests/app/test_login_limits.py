"""Failed sign-ins are limited per user name and per client, across sessions."""

from __future__ import annotations

import logging
import threading
from importlib import resources
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from plantpulse.app import auth
from plantpulse.app.login_limits import LoginLimiter, LoginLimits

MAIN = Path(__file__).resolve().parents[2] / "app" / "main.py"
LIMITS = LoginLimits(max_failures=5, window_s=900.0, lockout_s=900.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_five_failures_lock_the_name_and_the_client(clock: FakeClock) -> None:
    limiter = LoginLimiter(LIMITS, clock)
    for _ in range(4):
        assert not limiter.record_failure("ann", "10.0.0.5")
        clock.now += 10
    assert limiter.locked_for("ann", "10.0.0.5") == 0.0
    assert limiter.record_failure("ann", "10.0.0.5")
    assert limiter.locked_for("ann", "10.0.0.5") == 900.0
    assert limiter.locked_for("Ann ", "10.9.9.9") == 900.0  # the name, from another client
    assert limiter.locked_for("bob", "10.0.0.5") == 900.0  # the client, under another name
    assert limiter.locked_for("bob", "10.9.9.9") == 0.0
    clock.now += 899
    assert limiter.locked_for("ann", "10.0.0.5") == 1.0
    clock.now += 1
    assert limiter.locked_for("ann", "10.0.0.5") == 0.0


def test_changing_the_name_does_not_escape_the_client_limit(clock: FakeClock) -> None:
    limiter = LoginLimiter(LIMITS, clock)
    locks = [limiter.record_failure(f"guess-{i}", "10.0.0.7") for i in range(5)]
    assert locks == [False] * 4 + [True]
    assert limiter.locked_for("anyone-else", "10.0.0.7") == 900.0


def test_changing_the_client_does_not_escape_the_name_limit(clock: FakeClock) -> None:
    limiter = LoginLimiter(LIMITS, clock)
    locks = [limiter.record_failure("engineer", f"10.0.1.{i}") for i in range(5)]
    assert locks == [False] * 4 + [True]
    assert limiter.locked_for("engineer", "10.0.2.1") == 900.0


def test_failures_older_than_the_window_do_not_count(clock: FakeClock) -> None:
    limiter = LoginLimiter(LIMITS, clock)
    for _ in range(4):
        limiter.record_failure("ann", "10.0.0.5")
    clock.now += 901
    assert not limiter.record_failure("ann", "10.0.0.5")
    assert limiter.locked_for("ann", "10.0.0.5") == 0.0


def test_the_lockout_is_logged_without_the_password(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    limiter = LoginLimiter(LoginLimits(max_failures=2, window_s=60.0, lockout_s=120.0), clock)
    with caplog.at_level(logging.WARNING, logger="plantpulse.dashboard.auth"):
        limiter.record_failure("mallory", "203.0.113.9")
        assert not caplog.records
        limiter.record_failure("mallory", "203.0.113.9")
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "'mallory'" in record.getMessage() and "203.0.113.9" in record.getMessage()
    assert "locked for 120 s after 2 failed attempts" in record.getMessage()


def test_anyone_locks_a_known_name_and_a_new_process_forgets_it(clock: FakeClock) -> None:
    """What docs/security.md warns about: the lockout is per name from any client, and held in
    the memory of one server process (a restart, or another replica, starts from nothing)."""
    limiter = LoginLimiter(LIMITS, clock)
    for i in range(5):
        limiter.record_failure("ann", f"198.51.100.{i}")
    assert limiter.locked_for("ann", "10.0.0.5") == 900.0  # ann's own computer is locked out too
    assert LoginLimiter(LIMITS, clock).locked_for("ann", "10.0.0.5") == 0.0


def _lockout_section() -> str:
    text = resources.files("plantpulse.docs").joinpath("security.md").read_text(encoding="utf-8")
    start = text.index("**The sign-in lockout can be used against a user.**")
    return " ".join(text[start:text.index("\n\n", start)].split())


@pytest.mark.parametrize("stated", [
    "knows a user name can lock that name out", "live in the memory of the dashboard server process",
    "a restart forgets them", "replicas behind a load balancer do not share them",
    "`dashboard.lockout_s`", "`dashboard.max_failed_logins`", "`dashboard.failed_login_window_s`",
    "`dashboard.oidc`",
], ids=["anyone-locks-a-name", "in-memory", "restart", "replicas", "lockout_s", "max_failed_logins",
        "window", "oidc"])
def test_security_doc_states_what_the_lockout_costs(stated: str) -> None:
    assert stated in _lockout_section()


def test_counting_is_thread_safe(clock: FakeClock) -> None:
    limiter = LoginLimiter(LoginLimits(max_failures=400, window_s=60.0, lockout_s=60.0), clock)
    start = threading.Barrier(8)
    results: list[bool] = []

    def hammer() -> None:
        start.wait()
        results.extend(limiter.record_failure("ann", "10.0.0.5") for _ in range(50))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1  # the 400th of exactly 400 failures locked, once
    assert limiter.locked_for("ann", "10.0.0.5") == 60.0


def _sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def test_lockout_holds_across_sessions(plant, monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD", "fix-the-machines")
    monkeypatch.setattr(auth, "FAILED_LOGIN_DELAY_S", 0.0)
    with caplog.at_level(logging.WARNING, logger="plantpulse.dashboard.auth"):
        for attempt in range(5):  # every guess from a fresh session, as a script would
            at = _sign_in(AppTest.from_file(str(MAIN), default_timeout=60).run(), "Ann", f"guess-{attempt}")
            assert "Wrong password" in at.error[0].value
    assert any("'Ann'" in r.getMessage() and "guess" not in r.getMessage() for r in caplog.records)
    at = _sign_in(AppTest.from_file(str(MAIN), default_timeout=60).run(), "Ann", "fix-the-machines")
    assert "Too many failed sign-ins" in at.error[0].value and "Try again in 15 min" in at.error[0].value
    assert "Plant overview" not in [t.value for t in at.title]


def test_limits_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from plantpulse.data.core.config.settings import load_settings

    settings = load_settings(env={"PLANTPULSE_DASHBOARD__MAX_FAILED_LOGINS": "3",
                                  "PLANTPULSE_DASHBOARD__LOCKOUT_S": "60"})
    assert auth.login_limiter(settings).limits == LoginLimits(3, 900.0, 60.0)
    assert auth.login_limiter(settings) is auth.login_limiter(settings)
