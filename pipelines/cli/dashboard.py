"""``plantpulse dashboard``: serve the Streamlit plant dashboard."""

from __future__ import annotations

import math
import os
import sys

import click

from plantpulse.data.core.config.passwords import hash_password, password_problem
from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import ConfigError
from plantpulse.data.core.net import is_loopback
from plantpulse.pipelines.runtime.supervise import run_child


def check_exposure(settings: Settings, address: str) -> None:
    """Refuse to serve beyond this machine without authentication configured."""
    if is_loopback(address):
        return
    dash = settings.dashboard
    if not dash.has_passwords and not dash.oidc:
        msg = (
            f"Refusing to serve the dashboard on {address} without authentication. Set "
            "PLANTPULSE_DASHBOARD__PASSWORD_HASH (viewer) and "
            "PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD_HASH (made by `plantpulse dashboard "
            "hash-password`; or the plain …__PASSWORD variables, at least 12 characters), "
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


@click.group(invoke_without_command=True)
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Interface to bind. Anything but loopback requires authentication.")
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
def dashboard(ctx: click.Context, address: str, port: int) -> None:
    """Serve the plant dashboard (Streamlit) until interrupted.

    The dashboard reads the configured database; start it after `plantpulse db upgrade`.
    `plantpulse dashboard hash-password` makes a password hash for the settings.
    """
    if ctx.invoked_subcommand is None:
        _serve(ctx.obj, address, port)


@dashboard.command("hash-password")
def hash_password_command() -> None:
    """Read a password (prompt, or one line on standard input) and print its scrypt hash.

    Set the printed line as PLANTPULSE_DASHBOARD__PASSWORD_HASH (viewer) or
    PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD_HASH (engineer) instead of the plain password.
    """
    stdin = sys.stdin
    if stdin.isatty():
        typed = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        typed = stdin.readline().rstrip("\r\n")
    problem = password_problem(typed)
    if problem:
        raise ConfigError(f"The password {problem}; choose a longer one (a passphrase of a few "
                          "words works well).")
    click.echo(hash_password(typed))


def _serve(settings: Settings, address: str, port: int) -> None:
    check_exposure(settings, address)
    env = dict(os.environ)
    env.setdefault("PLANTPULSE_HOME", str(settings.home.resolve()))
    if settings.database_url:
        env.setdefault("PLANTPULSE_DATABASE_URL", settings.database_url)
    click.echo(f"PlantPulse dashboard on http://{address}:{port}")
    command = streamlit_command(address, port, settings.ingest.max_upload_mb)
    raise SystemExit(run_child(command, env))  # the server stops with us, even on SIGKILL
