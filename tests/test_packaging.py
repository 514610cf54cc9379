"""Packaging: every sub-package is installed, every imported library declared, every CLI command has help."""

from __future__ import annotations

import ast
import re
import sys
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


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imported_distributions() -> dict[str, set[str]]:
    """Third-party distribution -> the production modules that import it (module-level and local)."""
    from importlib.metadata import packages_distributions

    by_module = packages_distributions()
    found: dict[str, set[str]] = {}
    for package in ("app", "model", "pipelines", "connectors", "data"):
        for path in (ROOT / package).rglob("*.py"):
            if "sample" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top == "plantpulse":
                        continue
                    for dist in by_module.get(top, [top]):
                        found.setdefault(dist.lower().replace("_", "-"), set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_imported_library_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_requirement_name(r) for r in project["dependencies"]}
    declared |= {_requirement_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    imported = _imported_distributions()
    undeclared = {dist: sorted(paths)[:3] for dist, paths in imported.items() if dist not in declared}
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
