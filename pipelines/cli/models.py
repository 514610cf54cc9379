"""``plantpulse models``: the model registry — list, show, register, promote, roll back."""

from __future__ import annotations

import json
from pathlib import Path

import click

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.store.db import open_database


def _metrics(metrics: dict) -> str:
    parts = [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
             if not isinstance(v, dict | list)]
    return ", ".join(parts) or "-"


def _types(item) -> str:
    return ", ".join(item.asset_types) if item.asset_types is not None else "(not recorded)"


def _channels(item) -> str:
    return "; ".join(f"{t}: {', '.join(c)}" for t, c in item.channels.items()) or "(not recorded)"


def _print(item) -> None:
    click.echo(f"{item.label}  kind {item.kind}  stage {item.stage}")
    click.echo(f"  asset types: {_types(item)}")
    click.echo(f"  channels:    {_channels(item)}")
    click.echo(f"  metrics:     {_metrics(item.metrics)}")
    click.echo(f"  path:        {item.path}")
    click.echo(f"  sha256:      {item.sha256 or '-'}")


def _as_dict(item) -> dict:
    return {"name": item.name, "version": item.version, "kind": item.kind, "task": item.task, "stage": item.stage,
            "asset_types": None if item.asset_types is None else list(item.asset_types), "channels": item.channels,
            "metrics": item.metrics, "path": item.path, "sha256": item.sha256,
            "created_at": item.created_at.isoformat(),
            "promoted_at": item.promoted_at.isoformat() if item.promoted_at else None}


@click.group("models")
def models() -> None:
    """The model registry: which model versions exist, what they serve, which is in production."""


@models.command("list")
@click.option("--name", default=None, help="Only the versions of this model.")
@click.option("--json", "as_json", is_flag=True, help="Print the versions as JSON.")
@click.pass_obj
def list_cmd(settings: Settings, name: str | None, as_json: bool) -> None:
    """Every model version: name, version, kind, stage, asset types, channels, metrics, path, sha256."""
    from plantpulse.pipelines.models.registry import list_versions

    with open_database(settings).session() as session:
        items = list_versions(session, name)
    if as_json:
        click.echo(json.dumps([_as_dict(i) for i in items], indent=1))
        return
    if not items:
        click.echo("No model versions are registered. Train one (plantpulse fit, plantpulse train, plantpulse demo) "
                   "or register a file (plantpulse models register FILE).")
    for item in items:
        _print(item)


@models.command("show")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), default=None, help="Default: the newest version.")
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
@click.pass_obj
def show(settings: Settings, name: str, version: int | None, as_json: bool) -> None:
    """One model version in full."""
    from plantpulse.pipelines.models.registry import find_version, info

    with open_database(settings).session() as session:
        item = info(find_version(session, name, version))
    if as_json:
        click.echo(json.dumps(_as_dict(item), indent=1))
    else:
        _print(item)
        click.echo(f"  created:     {item.created_at:%Y-%m-%d %H:%M} UTC"
                   + (f", promoted {item.promoted_at:%Y-%m-%d %H:%M} UTC" if item.promoted_at else ""))


@models.command("register")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", default=None, help="Model name (default: the name in the file's metadata, else the file name).")
@click.option("--kind", default=None, help="Predictor kind (default: from the file's metadata), e.g. moe, baseline.")
@click.option("--task", default="", help="What it predicts, e.g. rul (shown in the registry).")
@click.option("--promote", "and_promote", is_flag=True, help="Also make it the production version.")
@click.pass_obj
def register(settings: Settings, file: Path, name: str | None, kind: str | None, task: str,
             and_promote: bool) -> None:
    """Register a .safetensors model FILE (no other format: it never runs code) as a candidate.

    The file is loaded through the predictor registry to check it; the asset types and channels it
    serves are recorded, and scoring uses it only for those asset types.
    """
    from plantpulse.pipelines.models.registry import promote, register_file

    db = open_database(settings)
    db.require_current()
    item = register_file(db, file, name=name, kind=kind, task=task)
    click.echo(f"registered {item.label} (candidate) serving {_types(item)}")
    if and_promote:
        for change in promote(db, item.name, item.version):
            click.echo(f"  {change}")


@models.command("promote")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), default=None, help="Default: the newest version.")
@click.pass_obj
def promote_cmd(settings: Settings, name: str, version: int | None) -> None:
    """Make a version of NAME the production version (the previous one is archived), in one transaction."""
    from plantpulse.pipelines.models.registry import promote

    for change in promote(open_database(settings), name, version):
        click.echo(str(change))


@models.command("rollback")
@click.argument("name")
@click.pass_obj
def rollback_cmd(settings: Settings, name: str) -> None:
    """Put back the version of NAME that was in production before the current one, in one transaction."""
    from plantpulse.pipelines.models.registry import rollback

    for change in rollback(open_database(settings), name):
        click.echo(str(change))
