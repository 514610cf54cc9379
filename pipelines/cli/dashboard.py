"""``plantpulse dashboard``: serve the Streamlit plant dashboard."""

from __future__ import annotations

import ipaddress
import math
import os
import sys

import click

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import ConfigError
from plantpulse.pipelines.runtime.supervise import run_child


def is_loopback(address: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings, address: str) -> None:
    """Refuse to serve beyond this machine without authentication configured."""
    if is_loopback(address):
        return
    dash = settings.dashboard
    if dash.password is None and dash.engineer_password is None and not dash.oidc:
        msg = (
            f"Refusing to serve the dashboard on {address} without authentication. Set "
            "PLANTPULSE_DASHBOARD__PASSWORD (viewer) and PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD, "
            "or configure OIDC in .streamlit/secrets.toml and dashboard.oidc = true, "
            "or bind to 127.0.0.1."
        )
        raise ConfigError(msg)


# The plant dashboard's look: light theme, one calm accent colour, no developer toolbar.
THEME = ("--theme.base", "light", "--theme.primaryColor", "#1f6feb", "--client.toolbarMode", "viewer")


def streamlit_command(address: str, port: int, max_upload_mb: float = 512.0) -> list[str]:
    """``streamlit run app/main.py`` bound to ``address:port`` with PlantPulse's options."""
    return [
        sys.executable, "-m", "plantpulse.app.serve",  # streamlit run, with the views preloaded
        "--server.address", address, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--server.maxUploadSize", str(max(1, math.ceil(max_upload_mb))), *THEME,
    ]


@click.command()
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Interface to bind. Anything but loopback requires authentication.")
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535))
@click.pass_obj
def dashboard(settings: Settings, address: str, port: int) -> None:
    """Serve the plant dashboard (Streamlit) until interrupted.

    The dashboard reads the configured database; start it after `plantpulse db upgrade`.
    """
    check_exposure(settings, address)
    env = dict(os.environ)
    env.setdefault("PLANTPULSE_HOME", str(settings.home.resolve()))
    if settings.database_url:
        env.setdefault("PLANTPULSE_DATABASE_URL", settings.database_url)
    click.echo(f"PlantPulse dashboard on http://{address}:{port}")
    command = streamlit_command(address, port, settings.ingest.max_upload_mb)
    raise SystemExit(run_child(command, env))  # the server stops with us, even on SIGKILL
