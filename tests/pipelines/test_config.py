"""Settings: defaults, TOML, environment, and loud failures for typos."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.core.errors import ConfigError


def test_defaults_put_sqlite_in_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.db_url == f"sqlite:///{tmp_path / '.plantpulse' / 'plantpulse.db'}"
    assert settings.image_store == Path(".plantpulse/images")


def test_environment_overrides_file(tmp_path: Path) -> None:
    config = tmp_path / "plant.toml"
    config.write_text('timezone = "Europe/Berlin"\n[ingest]\nmax_upload_mb = 10\n')
    env = {"PLANTPULSE_INGEST__MAX_UPLOAD_MB": "20", "PLANTPULSE_DATASETS": "/data/phm"}
    settings = load_settings(config, env=env)
    assert settings.timezone == "Europe/Berlin"
    assert settings.ingest.max_upload_mb == 20
    assert settings.datasets_dir == Path("/data/phm")


def test_overrides_win_and_none_is_ignored() -> None:
    settings = load_settings(env={"PLANTPULSE_DB_URL": "sqlite:///a.db"}, database_url=None, home="x")
    assert settings.database_url == "sqlite:///a.db" and settings.home == Path("x")


def test_settings_are_frozen() -> None:
    settings = load_settings(env={})
    with pytest.raises(ValueError, match="frozen"):
        settings.timezone = "UTC"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PLANTPULSE_TIMEZOME": "UTC"}, "timezome"),
        ({"PLANTPULSE_TIMEZONE": "Mars/Olympus"}, "IANA zone name"),
        ({"PLANTPULSE_INGEST__MAX_UPLOAD_MB": "-1"}, "greater than 0"),
    ],
    ids=["typo", "bad-zone", "negative-limit"],
)
def test_invalid_settings_fail_loudly(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("timezone = \n")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_settings(config, env={})


def test_missing_datasets_dir_says_what_to_set() -> None:
    with pytest.raises(ConfigError, match="Set PLANTPULSE_DATASETS"):
        load_settings(env={}).require_datasets_dir()
