"""Packaging: every sub-package is installed, every CLI command has help."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from plantpulse.pipelines.cli.main import LAZY_COMMANDS, cli

ROOT = Path(__file__).resolve().parents[1]
TOP = ("app", "model", "pipelines", "connectors", "data")


def test_every_subpackage_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        "plantpulse." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in TOP for init in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in init.parts and "checkpoints" not in init.parts
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    for name, folder in config["package-dir"].items():
        assert (ROOT / folder / "__init__.py").is_file(), name


def test_top_level_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for name in LAZY_COMMANDS:
        assert name in result.output


def _walk(group, path):
    import click

    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _walk(command, (*path, name))


@pytest.mark.parametrize("path", list(_walk(cli, ())), ids=lambda p: " ".join(p))
def test_every_subcommand_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3
