"""The OPC-UA password comes from the environment only, as docs/opcua.md says."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.core.errors import ConfigError


def test_an_opcua_password_in_the_settings_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "plant.toml"
    config.write_text('[opcua]\nusername = "plantpulse"\npassword = "s3cret-in-a-file"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[opcua\] password .*environment only.*PLANTPULSE_OPCUA__PASSWORD"):
        load_settings(config, env={})


def test_the_password_from_the_environment_is_used(tmp_path: Path) -> None:
    config = tmp_path / "plant.toml"
    config.write_text('[opcua]\nusername = "plantpulse"\n', encoding="utf-8")
    settings = load_settings(config, env={"PLANTPULSE_OPCUA__PASSWORD": "from-env"})
    assert settings.opcua.username == "plantpulse"
    assert settings.opcua.password is not None and settings.opcua.password.get_secret_value() == "from-env"
