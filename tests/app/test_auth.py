"""Sign-in and roles: password, OIDC, local-only anonymous access; the entry script end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from plantpulse.app import auth
from plantpulse.data.core.config.settings import load_settings

MAIN = Path(__file__).resolve().parents[2] / "app" / "main.py"
VIEWER_PW, ENGINEER_PW = "look-at-the-plant", "fix-the-machines"


def settings(**dashboard):
    return load_settings(env={}, dashboard=dashboard)


@pytest.mark.parametrize(("dashboard", "address", "mode"), [
    ({}, "127.0.0.1", "local"), ({}, "localhost", "local"), ({}, "0.0.0.0", "refused"),
    ({}, None, "refused"), ({"password": "v" * 12}, "0.0.0.0", "password"),
    ({"engineer_password": "e" * 12}, None, "password"), ({"oidc": True, "password": "v" * 12}, "0.0.0.0", "oidc"),
], ids=["loopback", "localhost", "public", "all-interfaces", "viewer-pw", "engineer-pw", "oidc-wins"])
def test_auth_mode(dashboard: dict, address: str | None, mode: str) -> None:
    assert auth.auth_mode(settings(**dashboard), address) == mode


def test_password_decides_the_role() -> None:
    s = settings(password=VIEWER_PW, engineer_password=ENGINEER_PW)
    assert auth.password_role(s, ENGINEER_PW) == auth.ENGINEER
    assert auth.password_role(s, VIEWER_PW) == auth.VIEWER
    assert auth.password_role(s, VIEWER_PW.upper()) is None and auth.password_role(s, "") is None


@pytest.mark.parametrize(("claims", "role"), [
    ({"email": "Ann@Plant.example"}, auth.ENGINEER), ({"email": "bob@plant.example"}, auth.VIEWER),
    ({"email": "eve@x", "groups": ["operators", "engineer"]}, auth.ENGINEER),
    ({"sub": "123", "roles": "engineer"}, auth.ENGINEER), ({}, auth.VIEWER),
], ids=["listed", "not-listed", "group-claim", "role-claim", "no-claims"])
def test_oidc_role(claims: dict, role: str) -> None:
    assert auth.oidc_role(settings(engineers=("ann@plant.example",)), claims) == role


def test_viewer_may_not_write() -> None:
    with pytest.raises(auth.NotAllowedError, match="Vic is signed in as a viewer; only engineers may promote"):
        auth.require_engineer(auth.User("Vic", auth.VIEWER, "password"), "promote models")


def _main(monkeypatch: pytest.MonkeyPatch, **env: str) -> AppTest:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(auth, "FAILED_LOGIN_DELAY_S", 0.0)
    return AppTest.from_file(str(MAIN), default_timeout=60).run()


def test_password_login_as_engineer(plant, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _main(monkeypatch, PLANTPULSE_DASHBOARD__PASSWORD=VIEWER_PW,
               PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD=ENGINEER_PW)
    assert [b.label for b in at.button] == ["Sign in"] and not at.get("metric")
    at.text_input[0].input("Ann")
    at.text_input[1].input("nope")
    at.button[0].click().run()
    assert "Wrong password" in at.error[0].value
    at.text_input[1].input(ENGINEER_PW)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert "Plant overview" in [t.value for t in at.title]
    assert any("Ann" in m.value and "engineer" in m.value for m in at.sidebar.markdown)
    assert [b for b in at.button if b.label == "Acknowledge"]


def test_password_login_as_viewer(plant, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _main(monkeypatch, PLANTPULSE_DASHBOARD__PASSWORD=VIEWER_PW,
               PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD=ENGINEER_PW)
    at.text_input[1].input(VIEWER_PW)
    at.button[0].click().run()
    assert any("viewer" in m.value for m in at.sidebar.markdown)
    assert not [b for b in at.button if b.label == "Acknowledge"]


def test_no_auth_on_a_public_address_is_refused(plant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "bind_address", lambda: "0.0.0.0")
    at = _main(monkeypatch)
    assert "has no authentication" in at.error[0].value and not at.title


def test_no_auth_on_loopback_is_a_local_engineer(plant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "bind_address", lambda: "127.0.0.1")
    at = _main(monkeypatch)
    assert not at.exception and "Plant overview" in [t.value for t in at.title]
    assert any("local user" in m.value for m in at.sidebar.markdown)


def test_oidc_shows_single_sign_on(plant, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _main(monkeypatch, PLANTPULSE_DASHBOARD__OIDC="true")
    assert [b.label for b in at.button] == ["Sign in with single sign-on"]


def test_out_of_date_schema_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "bind_address", lambda: "127.0.0.1")
    monkeypatch.setenv("PLANTPULSE_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    monkeypatch.setenv("PLANTPULSE_HOME", str(tmp_path))
    at = AppTest.from_file(str(MAIN), default_timeout=60).run()
    assert "plantpulse db upgrade" in at.error[0].value
