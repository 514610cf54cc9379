"""``plantpulse datasets``: list, verify, download and sample the public datasets."""

from __future__ import annotations

import time
from pathlib import Path

import click

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.datasets import dataset_names, load_dataset, manifest
from plantpulse.data.datasets.manifest import VERIFY_LEVELS


def _root(settings: Settings, root: str | None) -> Path:
    return Path(root) if root else settings.require_datasets_dir()


@click.group()
def datasets() -> None:
    """The public PHM datasets: where they are expected and whether they are intact.

    The folder is PLANTPULSE_DATASETS (or datasets_dir in plantpulse.toml, or --root).
    See docs/datasets.md for sources and licences.
    """


@datasets.command("list")
@click.pass_obj
def list_cmd(settings: Settings) -> None:
    """Show each dataset, its folder and whether that folder exists."""
    root = settings.datasets_dir
    for name in dataset_names():
        spec = manifest(name)
        here = "present" if root and (root / spec.folder).is_dir() else "missing"
        click.echo(f"{name:18s} {spec.folder + '/':30s} {len(spec.files):3d} files  {here}")
    if root is None:
        click.echo("PLANTPULSE_DATASETS is not set.")


@datasets.command("verify")
@click.argument("names", nargs=-1)
@click.option("--root", type=click.Path(file_okay=False), help="Datasets folder (default: settings).")
@click.option("--level", type=click.Choice(VERIFY_LEVELS), default="full", show_default=True,
              help="full: sizes+sha256+counts; sizes: skip hashing; none: parse and count only.")
@click.pass_obj
def verify_cmd(settings: Settings, names: tuple[str, ...], root: str | None, level: str) -> None:
    """Load NAMES (default: all) and check files and counts against their provenance records."""
    folder = _root(settings, root)
    for name in names or tuple(dataset_names()):
        start = time.perf_counter()
        load_dataset(name, folder, verify=level)
        click.echo(f"{name:18s} OK  ({time.perf_counter() - start:.1f} s)")


@datasets.command("sample")
@click.option("--root", type=click.Path(file_okay=False), help="Datasets folder (default: settings).")
@click.option("--out", type=click.Path(file_okay=False), default="data/sample", show_default=True)
@click.pass_obj
def sample_cmd(settings: Settings, root: str | None, out: str) -> None:
    """Re-create the small bundled sample (data/sample) from the full datasets."""
    from plantpulse.data.datasets.sample import build_sample

    files = build_sample(_root(settings, root), Path(out))
    click.echo(f"wrote {len(files)} files to {out} (see {out}/MANIFEST.json)")


@datasets.command("download")
@click.argument("names", nargs=-1)
@click.option("--root", type=click.Path(file_okay=False), help="Datasets folder (default: settings).")
@click.pass_obj
def download_cmd(settings: Settings, names: tuple[str, ...], root: str | None) -> None:
    """Download NAMES (default: all that have a public direct link) and verify them.

    Needs internet access. Files are checked against the published sha256 before they are
    kept; a dataset without a direct public link prints where to get it by hand.
    """
    from plantpulse.data.datasets.download import download

    folder = _root(settings, root)
    for name in names or tuple(dataset_names()):
        click.echo(download(name, folder))
