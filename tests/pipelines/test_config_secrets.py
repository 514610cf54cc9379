"""The OPC-UA password and the webhook token come from the environment (or the secrets folder)
only, as docs/opcua.md and docs/security.md say."""

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


def test_a_webhook_token_in_the_settings_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "plant.toml"
    config.write_text('[alerts]\nwebhook_url = "https://erp.example/wo"\nwebhook_token = "t0ken-in-a-file"\n',
                      encoding="utf-8")
    with pytest.raises(ConfigError, match=r"plant\.toml: \[alerts\] webhook_token .*environment only.*"
                                          r"PLANTPULSE_ALERTS__WEBHOOK_TOKEN") as caught:
        load_settings(config, env={})
    assert "t0ken-in-a-file" not in str(caught.value)


def test_the_webhook_token_from_the_environment_is_used(tmp_path: Path) -> None:
    config = tmp_path / "plant.toml"
    config.write_text('[alerts]\nwebhook_url = "https://erp.example/wo"\n', encoding="utf-8")
    settings = load_settings(config, env={"PLANTPULSE_ALERTS__WEBHOOK_TOKEN": "from-env"})
    assert settings.alerts.webhook_token is not None
    assert settings.alerts.webhook_token.get_secret_value() == "from-env"
