"""Settings sources: lists in JSON from the environment, the secrets folder, unknown names."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantpulse.data.core.config.passwords import hash_password
from plantpulse.data.core.config.settings import Settings, load_settings
from plantpulse.data.core.errors import ConfigError

GOOD = "a long enough passphrase"


def test_list_settings_come_from_the_environment_as_json() -> None:
    settings = load_settings(env={
        "PLANTPULSE_DASHBOARD__ENGINEERS": '["a@x", "b@x"]',
        "PLANTPULSE_WELD__REJECT_CLASSES": '["Defect"]',
        "PLANTPULSE_ALERTS__SHIFT_STARTS": "[22, 6]",
        "PLANTPULSE_ALERTS__ANOMALY_THRESHOLDS": '{"moe": 0.5}',
    })
    assert settings.dashboard.engineers == ("a@x", "b@x")
    assert settings.weld.reject_classes == ("Defect",)
    assert settings.alerts.shift_starts == (6, 22)
    assert settings.alerts.anomaly_thresholds == {"moe": 0.5}


def test_one_table_entry_comes_from_its_own_variable() -> None:
    settings = load_settings(env={"PLANTPULSE_ALERTS__ANOMALY_THRESHOLDS__BASELINE": "4.5"})
    assert settings.alerts.anomaly_limit("baseline") == 4.5


def test_a_list_that_is_not_json_says_how_to_write_it() -> None:
    with pytest.raises(ConfigError, match=r"PLANTPULSE_DASHBOARD__ENGINEERS: a list is written in JSON, "
                                          r"e\.g\. PLANTPULSE_DASHBOARD__ENGINEERS='\[\"a@example\.com\""):
        load_settings(env={"PLANTPULSE_DASHBOARD__ENGINEERS": "a@x"})


def test_environment_lists_and_file_tables_merge(tmp_path: Path) -> None:
    config = tmp_path / "plant.toml"
    config.write_text('[dashboard]\noidc = true\nengineers = ["file@x"]\n', encoding="utf-8")
    settings = load_settings(config, env={"PLANTPULSE_DASHBOARD__ENGINEERS": '["env@x"]'})
    assert settings.dashboard.oidc and settings.dashboard.engineers == ("env@x",)


@pytest.mark.parametrize(("variable", "message"), [
    ("PLANTPULSE_DASHBOARD__PASWORD",
     r"section 'dashboard' has no setting 'pasword'\. Did you mean PLANTPULSE_DASHBOARD__PASSWORD\? "
     r"Valid names: PLANTPULSE_DASHBOARD__PASSWORD, PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD, "),
    ("PLANTPULSE_DASHBORD__PASSWORD", r"no setting 'dashbord'\. Did you mean PLANTPULSE_DASHBOARD\?"),
    ("PLANTPULSE_HOME__DIR", r"'home' is one setting, not a section: set PLANTPULSE_HOME\."),
    ("PLANTPULSE_WELD__REJECT_CLASSES__0", r"'weld\.reject_classes' is one setting, not a section"),
], ids=["nested-typo", "section-typo", "not-a-section", "list-item"])
def test_an_unknown_variable_names_the_valid_ones(variable: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(env={variable: "a-secret-value-1234"})
    assert "a-secret-value-1234" not in str(caught.value)


@pytest.mark.parametrize("variable", ["PLANTPULSE_CONFIG", "PLANTPULSE_SECRETS_DIR",
                                      "PLANTPULSE_DATASETS_MIRROR", "PLANTPULSE_TEST_POSTGRES_URL"])
def test_variables_read_elsewhere_are_not_settings(variable: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={variable: ""}) == load_settings(env={})


def test_the_full_name_wins_over_its_alias() -> None:
    settings = load_settings(env={"PLANTPULSE_DATASETS": "/a", "PLANTPULSE_DATASETS_DIR": "/b",
                                  "PLANTPULSE_DB_URL": "sqlite:///db.db"})
    assert settings.datasets_dir == Path("/b") and settings.database_url == "sqlite:///db.db"


def test_settings_built_directly_read_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTPULSE_TIMEZONE", "Europe/Berlin")
    assert Settings(home=Path("x")).timezone == "UTC"
    assert load_settings().timezone == "Europe/Berlin"


def _secrets(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
    return folder


def test_secrets_come_from_files_named_like_their_variable(tmp_path: Path) -> None:
    encoded = hash_password(GOOD, n=2**10)
    folder = _secrets(tmp_path, plantpulse_dashboard__engineer_password=GOOD,
                      plantpulse_dashboard__password_hash=encoded,
                      PLANTPULSE_ALERTS__WEBHOOK_TOKEN="token-from-a-file",
                      plantpulse_opcua__password="opcua-from-a-file",
                      postgres_password="someone else's secret")
    settings = load_settings(env={"PLANTPULSE_SECRETS_DIR": str(folder)})
    assert settings.dashboard.engineer_password is not None
    assert settings.dashboard.engineer_password.get_secret_value() == GOOD  # the newline is stripped
    assert settings.dashboard.password_hash == encoded
    assert settings.alerts.webhook_token is not None
    assert settings.alerts.webhook_token.get_secret_value() == "token-from-a-file"
    assert settings.opcua.password is not None
    assert settings.opcua.password.get_secret_value() == "opcua-from-a-file"


def test_file_then_secrets_then_environment_then_overrides(tmp_path: Path) -> None:
    config = tmp_path / "plant.toml"
    config.write_text('timezone = "Asia/Tokyo"\nlog_level = "DEBUG"\n[ingest]\nmax_upload_mb = 1\n'
                      "max_zip_members = 10\nchunk_rows = 1000\n", encoding="utf-8")
    folder = _secrets(tmp_path, plantpulse_log_level="WARNING", plantpulse_ingest__max_upload_mb="2",
                      plantpulse_ingest__max_zip_members="20")
    env = {"PLANTPULSE_SECRETS_DIR": str(folder), "PLANTPULSE_INGEST__MAX_UPLOAD_MB": "3"}
    settings = load_settings(config, env=env, ingest={"chunk_rows": 4000})
    assert settings.timezone == "Asia/Tokyo" and settings.log_level == "WARNING"
    assert (settings.ingest.max_upload_mb, settings.ingest.max_zip_members, settings.ingest.chunk_rows) == (
        3, 20, 4000)


def test_a_missing_secrets_folder_is_fine(tmp_path: Path) -> None:
    settings = load_settings(env={"PLANTPULSE_SECRETS_DIR": str(tmp_path / "absent")})
    assert not settings.dashboard.has_passwords


def test_a_secrets_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secrets").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"PLANTPULSE_SECRETS_DIR=.*secrets is not a folder"):
        load_settings(env={"PLANTPULSE_SECRETS_DIR": str(tmp_path / "secrets")})


def test_an_unknown_plantpulse_secret_file_is_refused(tmp_path: Path) -> None:
    folder = _secrets(tmp_path, plantpulse_dashboard__engineer_pasword=GOOD)
    with pytest.raises(ConfigError, match=r"(?s)in the secrets folder .*PLANTPULSE_DASHBOARD__ENGINEER_PASWORD: "
                                          r".*Did you mean PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD\?") as caught:
        load_settings(env={"PLANTPULSE_SECRETS_DIR": str(folder)})
    assert GOOD not in str(caught.value)


def test_a_short_password_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    folder = _secrets(tmp_path, plantpulse_dashboard__password="short-pw")
    with pytest.raises(ConfigError, match=r"PLANTPULSE_DASHBOARD__PASSWORD\) has 8 characters") as caught:
        load_settings(env={"PLANTPULSE_SECRETS_DIR": str(folder)})
    assert "short-pw" not in str(caught.value)


def test_the_opcua_password_stays_out_of_the_settings_file_with_a_secrets_folder(tmp_path: Path) -> None:
    config = tmp_path / "plant.toml"
    config.write_text('[opcua]\npassword = "s3cret-in-a-file"\n', encoding="utf-8")
    folder = _secrets(tmp_path, plantpulse_opcua__password="from-the-folder")
    with pytest.raises(ConfigError, match=r"\[opcua\] password .*environment only") as caught:
        load_settings(config, env={"PLANTPULSE_SECRETS_DIR": str(folder)})
    assert "s3cret-in-a-file" not in str(caught.value)
