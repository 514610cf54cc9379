"""The dashboard does not start its sign-in with an empty or short password configured."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from plantpulse.app import auth
from plantpulse.data.core.config.passwords import hash_password

MAIN = Path(__file__).resolve().parents[2] / "app" / "main.py"


@pytest.mark.parametrize("value", ["", "short"], ids=["empty", "short"])
def test_empty_or_short_engineer_password_stops_the_dashboard(plant, monkeypatch: pytest.MonkeyPatch,
                                                              value: str) -> None:
    monkeypatch.setenv("PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD", value)
    monkeypatch.setattr(auth, "bind_address", lambda: "0.0.0.0")
    at = AppTest.from_file(str(MAIN), default_timeout=60).run()
    assert "PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD" in at.error[0].value
    assert "hash-password" in at.error[0].value
    assert not at.text_input and not at.button  # no sign-in form, so nothing to sign in with


def test_engineer_signs_in_with_a_hashed_password(plant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD_HASH",
                       hash_password("fix-the-machines", n=2**10))
    at = AppTest.from_file(str(MAIN), default_timeout=60).run()
    at.text_input[0].input("Ann")
    at.text_input[1].input("")
    at.button[0].click().run()
    assert "Wrong password" in at.error[0].value
    at.text_input[1].input("fix-the-machines")
    at.button[0].click().run()
    assert not at.exception and "Plant overview" in [t.value for t in at.title]
    assert any("Ann" in m.value and "engineer" in m.value for m in at.sidebar.markdown)
