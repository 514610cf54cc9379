"""Dashboard passwords: no empty or short ones, scrypt hashes instead of plain text."""

from __future__ import annotations

from importlib import resources

import pytest
from click.testing import CliRunner

from plantpulse.app import auth
from plantpulse.data.core.config.passwords import hash_password, parse_hash, verify_password
from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.core.errors import ConfigError
from plantpulse.pipelines.cli.dashboard import check_exposure
from plantpulse.pipelines.cli.main import cli, main

GOOD = "a long enough passphrase"


@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("ENGINEER_PASSWORD", "", "is empty"),
    ("PASSWORD", "", "is empty"),
    ("ENGINEER_PASSWORD", "secret-11ch", "has 11 characters; at least 12 are required"),
], ids=["empty-engineer", "empty-viewer", "short"])
def test_empty_or_short_passwords_are_refused(variable: str, value: str, problem: str) -> None:
    name = f"PLANTPULSE_DASHBOARD__{variable}"
    with pytest.raises(ConfigError, match=rf"{name}\) {problem}") as caught:
        load_settings(env={name: value})
    message = str(caught.value)
    assert "plantpulse dashboard hash-password" in message and f"{name}_HASH" in message
    assert value == "" or value not in message  # the refused password is never echoed


def test_dashboard_start_refuses_an_empty_password(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from plantpulse.pipelines.cli import dashboard as dashboard_cli

    started: list[list[str]] = []
    monkeypatch.setattr(dashboard_cli, "run_child", lambda command, *_, **__: started.append(command) or 0)
    monkeypatch.delenv("PLANTPULSE_CONFIG", raising=False)
    monkeypatch.setenv("PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD", "")
    assert main(["dashboard", "--address", "0.0.0.0"]) == 2
    assert started == []  # no server was started
    assert "PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD) is empty" in capsys.readouterr().err


def test_hash_round_trip_and_format() -> None:
    encoded = hash_password(GOOD, n=2**10)
    scheme, n, r, p, _, _ = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", "1024", "8", "1")
    assert verify_password(GOOD, encoded) and not verify_password(GOOD + " ", encoded)
    assert hash_password(GOOD, n=2**10) != encoded  # a fresh salt every time


@pytest.mark.parametrize(("encoded", "match"), [
    ("bcrypt$1$2$3$YQ==$YQ==", "not a password hash of the form scrypt"),
    ("scrypt$x$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==", "not a readable scrypt hash"),
    ("scrypt$1000$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==", "n must be a power of two"),
    ("scrypt$1024$8$1$AA==$AAAAAAAAAAAAAAAAAAAAAA==", "salt or key that is too short"),
], ids=["scheme", "number", "power-of-two", "short-salt"])
def test_bad_hashes_are_refused(encoded: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_hash(encoded)
    with pytest.raises(ConfigError, match=rf"PLANTPULSE_DASHBOARD__PASSWORD_HASH\) .*{match}"):
        load_settings(env={"PLANTPULSE_DASHBOARD__PASSWORD_HASH": encoded})


@pytest.mark.parametrize("doc", ["security.md", "dashboard.md", "architecture.md"])
def test_docs_name_only_the_hash_the_code_accepts(doc: str) -> None:
    """The settings table once promised argon2 hashes too; only scrypt is read."""
    text = resources.files("plantpulse.docs").joinpath(doc).read_text(encoding="utf-8").lower()
    assert "scrypt" in text
    assert not [other for other in ("argon2", "bcrypt", "pbkdf2") if other in text]


def test_an_argon2_hash_is_refused() -> None:
    argon2 = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
    with pytest.raises(ValueError, match=r"not a password hash of the form scrypt\$n\$r\$p\$salt\$key"):
        parse_hash(argon2)


def test_hashes_grant_roles() -> None:
    settings = load_settings(env={}, dashboard={
        "password_hash": hash_password("viewers only here", n=2**10),
        "engineer_password_hash": hash_password("engineers fix things", n=2**10)})
    assert auth.password_role(settings, "engineers fix things") == auth.ENGINEER
    assert auth.password_role(settings, "viewers only here") == auth.VIEWER
    assert auth.password_role(settings, "") is None and auth.password_role(settings, GOOD) is None
    assert auth.auth_mode(settings, "0.0.0.0") == "password"
    check_exposure(settings, "0.0.0.0")


def test_plain_and_hash_for_one_role_is_ambiguous() -> None:
    with pytest.raises(ConfigError, match="dashboard.password and dashboard.password_hash are both set"):
        load_settings(env={}, dashboard={"password": GOOD, "password_hash": hash_password(GOOD, n=2**10)})


def test_public_bind_without_any_password_is_refused() -> None:
    with pytest.raises(ConfigError, match="Refusing to serve the dashboard on 0.0.0.0 without auth"):
        check_exposure(load_settings(env={}), "0.0.0.0")


def test_hash_password_command_reads_stdin() -> None:
    result = CliRunner().invoke(cli, ["dashboard", "hash-password"], input=GOOD + "\n",
                                env={"PLANTPULSE_CONFIG": None})
    assert result.exit_code == 0, result.output
    encoded = result.output.strip()
    assert verify_password(GOOD, encoded)
    assert load_settings(env={"PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD_HASH": encoded}).dashboard.has_passwords


def test_hash_password_command_refuses_a_short_password(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["dashboard", "hash-password"]) == 2
    assert "has 5 characters; at least 12 are required" in capsys.readouterr().err


def test_dashboard_help_names_hash_password(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--help"]) == 0
    assert "hash-password" in capsys.readouterr().out
