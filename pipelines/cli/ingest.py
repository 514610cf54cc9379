"""``plantpulse ingest sensors|logs|images|assets``: load files into the database.

Each file is one batch in one transaction; a summary is printed after each, and the rows that
were refused can be listed or exported with ``plantpulse db quarantine --batch N``.
"""

from __future__ import annotations

import logging
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from plantpulse.connectors.images.archive import ArchiveLimits
from plantpulse.connectors.images.classes import CLASS_SOURCES, FOLDERS, ClassLabels, read_class_table
from plantpulse.connectors.images.connector import ImageOptions
from plantpulse.connectors.logs.connector import LogOptions
from plantpulse.connectors.logs.presets import FORMATS
from plantpulse.connectors.registry import connector_entry, connector_names
from plantpulse.connectors.sensors.options import EPOCH_UNITS, LAYOUTS, ChannelLimit, SensorOptions
from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import ConfigError, PlantPulseError
from plantpulse.data.store.db import Database, open_database
from plantpulse.pipelines.ingest.choices import parse_epoch, parse_names, parse_pairs, parse_time
from plantpulse.pipelines.ingest.entry import (
    IngestResult,
    describe,
    ingest_image_upload,
    ingest_log_file,
    ingest_sensor_file,
    load_asset_registry,
    prepare_database,
)

REPLACE_HELP = ("Replace the earlier batch of this file (same content, else same file name) in the same "
                "transaction: what it stored is removed and the file is read again with these options.")


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
    for channel, text in parse_pairs(pairs, "--limit").items():
        limits[channel] = ChannelLimit.parse(text)
    return limits


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
@click.option("--connector", type=click.Choice(["auto", *connector_names("sensors")]), default="auto",
              show_default=True, help="File reader; auto picks it by the file name: "
              + "; ".join(f"{n} for {' '.join(connector_entry(n).suffixes)}" for n in connector_names("sensors")) + ".")
@click.option("--layout", type=click.Choice(LAYOUTS), default="auto", show_default=True,
              help="wide: one column per channel; long: asset,time,channel,value[,unit][,status].")
@click.option("--asset", help="Every row belongs to this asset.")
@click.option("--asset-column", help="Column holding the asset (default: one named asset, machine, ...).")
@click.option("--asset-pattern", help="Regex on the file name giving the asset (group 'asset' or 1).")
@click.option("--asset-template", default="{}", show_default=True,
              help="Format for asset values (of the asset column or of --asset-pattern), e.g. 'azure-machine-{:03d}'.")
@click.option("--time-column", help="Column holding the timestamp (default: timestamp, time, ...).")
@click.option("--time-format", help="strptime format when timestamps are not ISO 8601, e.g. '%d.%m.%Y %H:%M'.")
@click.option("--epoch", "epoch", metavar="TIME",
              help="Timestamps are numbers counted from TIME (ISO 8601 with zone, e.g. 2024-05-01T00:00:00Z); "
                   "their unit is --epoch-unit (default s). For .mat files: the time of the first sample. "
                   "The older '--epoch s|ms|us' still means Unix times in that unit.")
@click.option("--epoch-unit", type=click.Choice(list(EPOCH_UNITS)),
              help="Timestamps are numbers of this unit: since --epoch, or since 1970-01-01Z (Unix times).")
@click.option("--columns", help="Comma-separated names of the fields of a file without a header line "
                                "(every line is then data), e.g. timestamp,asset,temp.")
@click.option("--mat-var", "mat_vars", multiple=True, metavar="NAME=CHANNEL",
              help=".mat files: read variable NAME (a glob such as '*_DE_time' is allowed) as CHANNEL "
                   "(repeatable; default: every numeric vector under its own name).")
@click.option("--rate-hz", type=float, help=".mat files: sampling rate of the vectors, in samples per second.")
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
@click.option("--replace", is_flag=True, help=REPLACE_HELP)
@click.pass_obj
def sensors(settings: Settings, files: tuple[str, ...], connector: str, **opts: Any) -> None:
    """Ingest sensor FILES, one batch each: CSV (also .csv.gz, or a .zip holding one CSV; wide or
    long; with --columns when it has no header line), Parquet, or MATLAB .mat vectors."""
    create, asset_type, replace = opts.pop("create_assets"), opts.pop("asset_type"), opts.pop("replace")
    epoch, epoch_unit = parse_epoch(opts["epoch"], opts["epoch_unit"])
    options = SensorOptions(
        layout=opts["layout"], asset=opts["asset"], asset_column=opts["asset_column"],
        asset_pattern=opts["asset_pattern"], asset_template=opts["asset_template"],
        time_column=opts["time_column"], time_format=opts["time_format"], epoch_unit=epoch_unit, epoch=epoch,
        columns=parse_names(opts["columns"]), mat_vars=parse_pairs(opts["mat_vars"], "--mat-var"), rate_hz=opts["rate_hz"],
        max_unpacked_mb=settings.ingest.max_upload_mb,
        timezone=opts["timezone"] or settings.timezone, units=parse_pairs(opts["units"], "--unit"),
        limits=_limits(opts["limit_pairs"], opts["limits_file"]),
        channels=tuple(c.strip() for c in opts["channels"].split(",")) if opts["channels"] else None,
        ignore_columns=opts["ignore"], rename=parse_pairs(opts["rename"], "--rename"), na_values=opts["na_values"],
        delimiter=opts["delimiter"], encoding=opts["encoding"], chunk_rows=settings.ingest.chunk_rows,
        max_field_chars=settings.ingest.max_field_chars,
        **{k: v for k, v in (("not_before", parse_time(opts["not_before"])), ("not_after", parse_time(opts["not_after"]))) if v},
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
                                      on_open=opened, progress=lambda n: bar.update(n) if bar else None,
                                      replace=replace)
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
@click.option("--columns", help="Comma-separated names of the fields of a CSV without a header line "
                                "(generic format), e.g. ts,asset,text; then map them with --map if needed.")
@click.option("--allow-no-asset", is_flag=True,
              help="Generic format: store events although no column gives their asset.")
@click.option("--allow-no-time", is_flag=True,
              help="Generic format: store events although no column gives their time.")
@click.option("--create-assets", is_flag=True, help="Create unknown assets instead of quarantining their rows.")
@click.option("--asset-type", default="generic", show_default=True)
@click.option("--replace", is_flag=True, help=REPLACE_HELP)
@click.pass_obj
def logs(settings: Settings, files: tuple[str, ...], log_format: str, mapping: tuple[str, ...],
         create_assets: bool, asset_type: str, replace: bool, **opts: Any) -> None:
    """Ingest maintenance-log exports (CSV, JSON, JSON Lines; also gzip-compressed or as the one
    file of a zip), one batch each."""
    options = LogOptions(format=log_format, mapping=parse_pairs(mapping, "--map"), source=opts["source"],
                         kind=opts["kind"], asset_template=opts["asset_template"],
                         timezone=opts["timezone"] or settings.timezone, time_format=opts["time_format"],
                         encoding=opts["encoding"], max_field_chars=settings.ingest.max_field_chars,
                         columns=parse_names(opts["columns"]), allow_no_asset=opts["allow_no_asset"],
                         allow_no_time=opts["allow_no_time"], max_unpacked_mb=settings.ingest.max_upload_mb)
    db = _database(settings)
    _each(files, lambda path: ingest_log_file(db, path, options=options, create_assets=create_assets,
                                              asset_type=asset_type, max_upload_mb=settings.ingest.max_upload_mb,
                                              replace=replace))


@ingest.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--asset", help="Weld cell (asset) the images come from.")
@click.option("--create-assets", is_flag=True, help="Create --asset if the database does not know it.")
@click.option("--asset-type", default="weld_cell", show_default=True)
@click.option("--replace", is_flag=True, help=REPLACE_HELP)
@click.option("--classes-from", type=click.Choice(CLASS_SOURCES),
              help="Whole-image class labels: 'folders' takes each image's folder name as its class "
                   "(good/a.jpg is 'good'); they train `plantpulse weld classify train`.")
@click.option("--labels", "labels_csv", type=click.Path(exists=True, dir_okay=False),
              help="Whole-image class labels from a CSV with columns file,class (file: the image's path "
                   "inside the upload, or its unique file name). Bad rows are quarantined with their line.")
@click.pass_obj
def images(settings: Settings, paths: tuple[str, ...], asset: str | None, create_assets: bool, asset_type: str,
           replace: bool, classes_from: str | None, labels_csv: str | None) -> None:
    """Ingest weld images from folders or zip files (PNG/JPG, optional YOLO labels, optional class labels)."""
    limits = settings.ingest
    options = ImageOptions(ArchiveLimits(limits.max_upload_mb, limits.max_zip_ratio, limits.max_zip_members),
                           max_image_pixels=limits.max_image_pixels)
    classes = ClassLabels(from_folders=classes_from == FOLDERS,
                          table=read_class_table(labels_csv) if labels_csv else None)
    db = _database(settings)

    def run(path: Path) -> IngestResult:
        with _bar(0, "img", path.name) as bar:
            return ingest_image_upload(db, path, image_store=settings.image_store, options=options, asset=asset,
                                       create_assets=create_assets, asset_type=asset_type, progress=bar.update,
                                       replace=replace, classes=classes)

    _each(paths, run)


@ingest.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def assets(settings: Settings, files: tuple[str, ...]) -> None:
    """Load an asset registry CSV (name, asset_type, site, line, model; extra columns kept as attributes)."""
    db = _database(settings)
    _each(files, lambda path: load_asset_registry(db, path, max_upload_mb=settings.ingest.max_upload_mb))
