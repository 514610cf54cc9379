"""``plantpulse dashboard``: exposure check and the server command it runs."""

from __future__ import annotations

import pytest

from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.core.errors import ConfigError
from plantpulse.data.core.net import is_loopback
from plantpulse.pipelines.cli.dashboard import check_exposure, streamlit_command


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("192.168.1.20", False), ("plant-host", False),
], ids=["v4", "v4-net", "v6", "name", "any", "lan", "hostname"])
def test_is_loopback(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_public_address_needs_authentication() -> None:
    with pytest.raises(ConfigError, match="Refusing to serve the dashboard on 0.0.0.0 without authentication"):
        check_exposure(load_settings(env={}), "0.0.0.0")
    check_exposure(load_settings(env={}), "127.0.0.1")
    check_exposure(load_settings(env={}, dashboard={"password": "x" * 12}), "0.0.0.0")
    check_exposure(load_settings(env={}, dashboard={"oidc": True}), "0.0.0.0")


def test_server_command_preloads_and_limits_uploads() -> None:
    command = streamlit_command("127.0.0.1", 8600, max_upload_mb=20.5)
    assert command[1:3] == ["-m", "plantpulse.app.serve"]
    options = dict(zip(command[3::2], command[4::2], strict=False))
    assert options["--server.address"] == "127.0.0.1" and options["--server.port"] == "8600"
    assert options["--server.maxUploadSize"] == "21" and options["--server.headless"] == "true"
