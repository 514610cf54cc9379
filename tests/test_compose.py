"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

Every command a service runs (and every health check that calls the CLI) must resolve to a real
`plantpulse` subcommand with valid options; secrets must come from the environment.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from plantpulse.pipelines.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = [name for name in SERVICES if name != "postgres"]


def test_required_services_exist() -> None:
    assert {"postgres", "dashboard", "scheduler", "opcua-sim"} <= set(SERVICES)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_use_the_one_dockerfile(name: str) -> None:
    service = SERVICES[name]
    assert service["build"]["dockerfile"] == "Dockerfile" and service["image"] == "plantpulse:latest"
    assert (ROOT / "Dockerfile").is_file()


@pytest.mark.parametrize("name", [n for n in SERVICES if n != "migrate"])
def test_long_running_services_have_health_checks(name: str) -> None:
    check = SERVICES[name]["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"} and len(check["test"]) > 1
    assert "interval" in check and "retries" in check


def test_ports_and_named_volumes() -> None:
    assert "8501:8501" in SERVICES["dashboard"]["ports"]
    assert "4840:4840" in SERVICES["opcua-sim"]["ports"]
    declared = set(COMPOSE["volumes"])
    used = {v.split(":")[0] for s in SERVICES.values() for v in s.get("volumes", [])}
    assert used <= declared and {"pgdata", "plantpulse-home"} <= declared


def test_secrets_come_from_the_environment() -> None:
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key) or "@" in str(value):
                assert "${" in str(value), f"{name}.{key} must be interpolated from the environment"


def _cli_commands() -> list[tuple[str, list[str]]]:
    found = [(name, list(SERVICES[name]["command"])) for name in APP_SERVICES]
    for name in APP_SERVICES:
        test = SERVICES[name].get("healthcheck", {}).get("test", [""])
        if test[:2] == ["CMD", "plantpulse"]:
            found.append((f"{name} healthcheck", list(test[2:])))
    return found


@pytest.mark.parametrize(("where", "args"), _cli_commands(), ids=[w for w, _ in _cli_commands()])
def test_every_command_is_a_real_subcommand(where: str, args: list[str]) -> None:
    # click parses every option before --help runs, so unknown commands or options fail here
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, f"{where}: plantpulse {' '.join(args)}\n{result.output}"


def test_dockerfile_installs_the_package_and_runs_the_cli() -> None:
    text = (ROOT / "Dockerfile").read_text()
    # every folder the package is built from (pyproject's package-dir) must be in the image,
    # or `pip install .` stops with "package directory ... does not exist"
    package_dir = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    folders = {path.split("/")[0] for path in package_dir.values()}
    assert {"app", "model", "pipelines", "connectors", "data", "docs"} <= folders
    for folder in sorted(folders):
        assert f"COPY {folder} ./{folder}" in text, f"the Dockerfile does not copy {folder}/"
    assert 'ENTRYPOINT ["plantpulse"]' in text and "USER plantpulse" in text
