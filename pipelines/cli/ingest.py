"""``plantpulse ingest sensors|logs|images|assets``: load files into the database.

Each file is one batch in one transaction; a summary is printed after each, and the rows that
were refused can be listed or exported with ``plantpulse db quarantine --batch N``.
"""

from __future__ import annotations

import logging
import sys
import tomllib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from plantpulse.connectors.images.archive import ArchiveLimits
from plantpulse.connectors.images.connector import ImageOptions
from plantpulse.connectors.logs.connector import LogOptions
from plantpulse.connectors.logs.presets import FORMATS
from plantpulse.connectors.sensors.options import EPOCH_UNITS, LAYOUTS, ChannelLimit, SensorOptions
from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import ConfigError, PlantPulseError
from plantpulse.data.store.db import Database, open_database
from plantpulse.pipelines.ingest.entry import (
    IngestResult,
    describe,
    ingest_image_upload,
    ingest_log_file,
    ingest_sensor_file,
    load_asset_registry,
    prepare_database,
)


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} {value!r} must look like NAME=VALUE.")
        out[key.strip()] = rest.strip()
    return out


def _limits(pairs: tuple[str, ...], limits_file: str | None) -> dict[str, ChannelLimit]:
    limits: dict[str, ChannelLimit] = {}
    if limits_file:
        try:
            table = tomllib.loads(Path(limits_file).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"Cannot read limits file {limits_file}: {err}.") from err
        for channel, bounds in table.items():
            if not isinstance(bounds, dict) or set(bounds) - {"low", "high"}:
                raise ConfigError(f"{limits_file}: [{channel}] may only set low and high.")
            limits[channel] = ChannelLimit(float(bounds.get("low", "-inf")), float(bounds.get("high", "inf")))
    for channel, text in _pairs(pairs, "--limit").items():
        limits[channel] = ChannelLimit.parse(text)
    return limits


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise ConfigError(f"{value!r} is not an ISO 8601 time such as 2015-01-01T00:00:00Z.") from err
    if parsed.tzinfo is None:
        raise ConfigError(f"{value!r} needs a time zone, e.g. {value}Z.")
    return parsed


def _database(settings: Settings) -> Database:
    if logging.getLogger().level > logging.DEBUG:  # schema checks are not news while ingesting
        logging.getLogger("alembic").setLevel(logging.WARNING)
    db = open_database(settings)
    prepare_database(db)
    return db


def _each(paths: tuple[str, ...], run: Callable[[Path], IngestResult]) -> None:
    """Ingest every path; report each; fail at the end if any failed."""
    failed = []
    for path in paths:
        try:
            click.echo(describe(run(Path(path))))
        except PlantPulseError as err:
            click.echo(f"error: {err}", err=True)
            failed.append(path)
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(paths)} inputs failed: {', '.join(failed)}")


def _bar(total: int, unit: str, name: str) -> tqdm:
    return tqdm(total=total, unit=unit, unit_scale=unit == "B", desc=name, leave=False,
                disable=None, file=sys.stderr)


@click.group()
def ingest() -> None:
    """Load sensor files, maintenance logs, weld images or the asset registry."""


@ingest.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--connector", type=click.Choice(["auto", "csv", "parquet"]), default="auto", show_default=True,
              help="File reader; auto picks parquet for .parquet/.pq files, else csv.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="auto", show_default=True,
              help="wide: one column per channel; long: asset,time,channel,value[,unit][,status].")
@click.option("--asset", help="Every row belongs to this asset.")
@click.option("--asset-column", help="Column holding the asset (default: one named asset, machine, ...).")
@click.option("--asset-pattern", help="Regex on the file name giving the asset (group 'asset' or 1).")
@click.option("--asset-template", default="{}", show_default=True, help="Format for asset values, e.g. 'azure-machine-{:03d}'.")
@click.option("--time-column", help="Column holding the timestamp (default: timestamp, time, ...).")
@click.option("--time-format", help="strptime format when timestamps are not ISO 8601, e.g. '%d.%m.%Y %H:%M'.")
@click.option("--epoch", "epoch_unit", type=click.Choice(list(EPOCH_UNITS)), help="Timestamps are Unix times in this unit.")
@click.option("--timezone", help="Zone of timestamps written without one (default: the plant's, from settings).")
@click.option("--unit", "units", multiple=True, metavar="CHANNEL=UNIT", help="Unit of a channel (repeatable).")
@click.option("--limit", "limit_pairs", multiple=True, metavar="CHANNEL=LOW:HIGH", help="Accepted range of a channel (repeatable).")
@click.option("--limits", "limits_file", type=click.Path(exists=True, dir_okay=False), help="TOML file: [channel] low=.. high=..")
@click.option("--channels", help="Comma-separated channels to read (wide files); others are left out.")
@click.option("--ignore-column", "ignore", multiple=True, help="Column to leave out (repeatable).")
@click.option("--rename", multiple=True, metavar="COLUMN=CHANNEL", help="Store a column under another channel name.")
@click.option("--na-value", "na_values", multiple=True, help="Text that means 'no value' (repeatable), e.g. n/a.")
@click.option("--delimiter", default=",", show_default=True)
@click.option("--encoding", default="utf-8", show_default=True)
@click.option("--not-before", help="Earliest accepted timestamp (ISO 8601 with zone); default 1970-01-01Z.")
@click.option("--not-after", help="Latest accepted timestamp; default one day after now.")
@click.option("--create-assets", is_flag=True, help="Create assets the database does not know instead of quarantining their rows.")
@click.option("--asset-type", default="generic", show_default=True, help="Type of assets created by --create-assets.")
@click.pass_obj
def sensors(settings: Settings, files: tuple[str, ...], connector: str, **opts: Any) -> None:
    """Ingest sensor CSV/Parquet FILES (wide or long), one batch each."""
    create, asset_type = opts.pop("create_assets"), opts.pop("asset_type")
    options = SensorOptions(
        layout=opts["layout"], asset=opts["asset"], asset_column=opts["asset_column"],
        asset_pattern=opts["asset_pattern"], asset_template=opts["asset_template"],
        time_column=opts["time_column"], time_format=opts["time_format"], epoch_unit=opts["epoch_unit"],
        timezone=opts["timezone"] or settings.timezone, units=_pairs(opts["units"], "--unit"),
        limits=_limits(opts["limit_pairs"], opts["limits_file"]),
        channels=tuple(c.strip() for c in opts["channels"].split(",")) if opts["channels"] else None,
        ignore_columns=opts["ignore"], rename=_pairs(opts["rename"], "--rename"), na_values=opts["na_values"],
        delimiter=opts["delimiter"], encoding=opts["encoding"], chunk_rows=settings.ingest.chunk_rows,
        max_field_chars=settings.ingest.max_field_chars,
        **{k: v for k, v in (("not_before", _time(opts["not_before"])), ("not_after", _time(opts["not_after"]))) if v},
    )
    db = _database(settings)

    def run(path: Path) -> IngestResult:
        bar = None

        def opened(info) -> None:
            nonlocal bar
            bar = _bar(info.progress_total, info.progress_unit, path.name)

        try:
            return ingest_sensor_file(db, path, connector=connector, options=options, create_assets=create,
                                      asset_type=asset_type, max_upload_mb=settings.ingest.max_upload_mb,
                                      on_open=opened, progress=lambda n: bar.update(n) if bar else None)
        finally:
            if bar is not None:
                bar.close()

    _each(files, run)


@ingest.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "log_format", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="Layout: a known export (Azure PdM tables, MaintNet) or generic with --map.")
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
              help="Generic exports: which column holds ts, asset, kind, code, component, text, action, external_id.")
@click.option("--source", help="Name of the system the log comes from (events are unique per source and id).")
@click.option("--kind", help="Event kind when the file has no kind column (e.g. work_order).")
@click.option("--asset-template", help="Format for asset values, e.g. 'azure-machine-{:03d}'.")
@click.option("--timezone", help="Zone of timestamps written without one (default: the plant's).")
@click.option("--time-format", help="strptime format when timestamps are not ISO 8601.")
@click.option("--encoding", default="utf-8-sig", show_default=True)
@click.option("--create-assets", is_flag=True, help="Create unknown assets instead of quarantining their rows.")
@click.option("--asset-type", default="generic", show_default=True)
@click.pass_obj
def logs(settings: Settings, files: tuple[str, ...], log_format: str, mapping: tuple[str, ...],
         create_assets: bool, asset_type: str, **opts: Any) -> None:
    """Ingest maintenance-log exports (CSV, JSON, JSON Lines), one batch each."""
    options = LogOptions(format=log_format, mapping=_pairs(mapping, "--map"), source=opts["source"],
                         kind=opts["kind"], asset_template=opts["asset_template"],
                         timezone=opts["timezone"] or settings.timezone, time_format=opts["time_format"],
                         encoding=opts["encoding"], max_field_chars=settings.ingest.max_field_chars)
    db = _database(settings)
    _each(files, lambda path: ingest_log_file(db, path, options=options, create_assets=create_assets,
                                              asset_type=asset_type, max_upload_mb=settings.ingest.max_upload_mb))


@ingest.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--asset", help="Weld cell (asset) the images come from.")
@click.option("--create-assets", is_flag=True, help="Create --asset if the database does not know it.")
@click.option("--asset-type", default="weld_cell", show_default=True)
@click.pass_obj
def images(settings: Settings, paths: tuple[str, ...], asset: str | None, create_assets: bool, asset_type: str) -> None:
    """Ingest weld images from folders or zip files (PNG/JPG, optional YOLO labels)."""
    limits = settings.ingest
    options = ImageOptions(ArchiveLimits(limits.max_upload_mb, limits.max_zip_ratio, limits.max_zip_members),
                           max_image_pixels=limits.max_image_pixels)
    db = _database(settings)

    def run(path: Path) -> IngestResult:
        with _bar(0, "img", path.name) as bar:
            return ingest_image_upload(db, path, image_store=settings.image_store, options=options, asset=asset,
                                       create_assets=create_assets, asset_type=asset_type, progress=bar.update)

    _each(paths, run)


@ingest.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def assets(settings: Settings, files: tuple[str, ...]) -> None:
    """Load an asset registry CSV (name, asset_type, site, line, model; extra columns kept as attributes)."""
    db = _database(settings)
    _each(files, lambda path: load_asset_registry(db, path, max_upload_mb=settings.ingest.max_upload_mb))
