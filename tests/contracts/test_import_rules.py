"""Imports point down: data <- connectors <- pipelines <- app, and model <- pipelines.

Read from the source with ``ast`` (no import needed), so a back-edge fails CI even in a module
that no test imports. The rules are the ones docs/architecture.md states.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("data", "connectors", "model", "pipelines", "app")

#: module prefix -> prefixes it may import (its own prefix is always allowed)
ALLOWED: dict[str, tuple[str, ...]] = {
    "data.core": (),
    "data": ("data",),
    "connectors": ("data",),
    "model": ("data.core",),
    "pipelines": ("data", "connectors", "model"),
    "app": ("data", "connectors", "pipelines"),
    "app.queries": ("data", "app.widgets"),  # read-only SQL for the pages: no job, CLI or model code
}


def _rule(module: str) -> tuple[str, tuple[str, ...]]:
    for prefix in sorted(ALLOWED, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix, ALLOWED[prefix]
    raise AssertionError(f"no import rule for {module}")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, n.removeprefix("plantpulse.")) for n in names if n.startswith("plantpulse.")]
    return found


def _modules() -> list[tuple[str, Path]]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if ".venv" in path.parts:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            out.append((module, path))
    return out


def violations(modules: list[tuple[str, Path]], root: Path = ROOT) -> list[str]:
    found = []
    for module, path in modules:
        own, allowed = _rule(module)
        for line, target in _imports(path):
            ok = any(target == p or target.startswith(p + ".") for p in (own, *allowed))
            if not ok:
                found.append(f"{path.relative_to(root)}:{line}: {module} imports {target} "
                             f"({own} may import only {', '.join((own, *allowed))})")
    return found


def test_every_module_has_a_rule() -> None:
    modules = _modules()
    assert len(modules) > 100
    for module, _ in modules:
        _rule(module)


def test_imports_point_down() -> None:
    found = violations(_modules())
    assert not found, "Imports that point up:\n" + "\n".join(found)


@pytest.mark.parametrize(("module", "source", "bad"), [
    ("model.moe.network", "from plantpulse.pipelines.score.job import run_scoring\n", True),
    ("model.moe.network", "from plantpulse.data.store.db import Database\n", True),
    ("model.moe.network", "from plantpulse.data.core.errors import InputDataError\n", False),
    ("connectors.sensors.csv_connector", "import plantpulse.pipelines.ingest.entry\n", True),
    ("data.core.records", "from plantpulse.data.store.schema import Asset\n", True),
    ("app.views.weld", "from plantpulse.model.weld.checkpoint import read_card\n", True),
    ("app.views.weld", "from plantpulse.pipelines.weld.service import detector_class_names\n", False),
    ("app.queries.fleet", "from plantpulse.pipelines.alerts.workorders import COLUMNS\n", True),
], ids=["model->pipelines", "model->store", "model->core", "connectors->pipelines", "core->store",
        "app->model", "app->pipelines", "queries->jobs"])
def test_the_check_catches_back_edges(tmp_path: Path, module: str, source: str, bad: bool) -> None:
    path = tmp_path / "mod.py"
    path.write_text(source, encoding="utf-8")
    found = violations([(module, path)], root=tmp_path)
    assert bool(found) is bad, found
