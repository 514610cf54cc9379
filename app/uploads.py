"""Uploads from the Data page into the ingest pipeline.

The browser sends the file to the Streamlit server (limited by ``ingest.max_upload_mb``), which
writes it to a private temporary file and hands it to the same ingest functions the CLI uses:
one transaction per file, bad rows quarantined with reasons, re-uploads detected by content.
:class:`ReadOptions` are the CLI's reading options (column names, asset, time format, epoch,
column mapping, ...) as the form's fields give them; :func:`preview_upload` shows the first
rows as they will be read, before anything is stored.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from plantpulse.connectors.logs.connector import LogOptions
from plantpulse.connectors.registry import file_suffixes
from plantpulse.connectors.sensors.options import SensorOptions
from plantpulse.connectors.unpack import GZIP_MAGIC, ZIP_MAGIC
from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import UploadRejectedError
from plantpulse.data.store.db import open_database
from plantpulse.pipelines.ingest.choices import parse_epoch, parse_names, parse_pairs
from plantpulse.pipelines.ingest.preview import Preview, preview_log_file, preview_sensor_file

Progress = Callable[[float, str], None]
PREVIEW_BYTES = 1 << 20  # a text file is previewed from its first MiB (whole lines)


@dataclass(frozen=True, slots=True)
class UploadKind:
    label: str
    extensions: tuple[str, ...]
    help: str


def _suffixes(kind: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.lstrip(".") for s in file_suffixes(kind)))


KINDS = {
    "sensors": UploadKind("Sensor readings", _suffixes("sensors"),
                          "Wide (one column per channel) or long (asset, time, channel, value); "
                          "CSV (also .csv.gz or a zip of one CSV), Parquet, or MATLAB .mat vectors."),
    "logs": UploadKind("Maintenance log", _suffixes("logs"),
                       "CMMS exports: Azure PdM errors/maint/failures, MaintNet, or mapped columns."),
    "images": UploadKind("Weld images", ("zip",),
                         "A zip of PNG/JPG images, with optional YOLO label .txt files."),
    "assets": UploadKind("Asset registry", ("csv",), "Columns name, asset_type, site, line, model."),
}


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to read a sensor file or log export, as typed in the form; each field is the CLI
    option of the same name (empty text: not given)."""

    columns: str = ""  # --columns a,b,c (no header line)
    asset: str = ""
    asset_column: str = ""
    asset_pattern: str = ""
    asset_template: str = ""
    time_column: str = ""
    time_format: str = ""
    epoch: str = ""  # --epoch TIME
    epoch_unit: str = ""
    timezone: str = ""
    delimiter: str = ","
    mat_vars: str = ""  # NAME=CHANNEL, one per line
    rate_hz: float = 0.0
    log_format: str = "auto"
    mapping: str = ""  # logs: FIELD=COLUMN, one per line
    source: str = ""
    kind: str = ""
    allow_no_asset: bool = False
    allow_no_time: bool = False


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(";", "\n").splitlines() if line.strip()]


def sensor_options(settings: Settings, read: ReadOptions) -> SensorOptions:
    """The :class:`SensorOptions` the form asks for (ConfigError says which field is wrong)."""
    epoch, unit = parse_epoch(read.epoch, read.epoch_unit or None)
    return SensorOptions(
        asset=read.asset.strip() or None, asset_column=read.asset_column.strip() or None,
        asset_pattern=read.asset_pattern.strip() or None, asset_template=read.asset_template.strip() or "{}",
        time_column=read.time_column.strip() or None, time_format=read.time_format.strip() or None,
        epoch=epoch, epoch_unit=unit, timezone=read.timezone.strip() or settings.timezone,
        columns=parse_names(read.columns), delimiter=read.delimiter or ",",
        mat_vars=parse_pairs(_lines(read.mat_vars), "--mat-var"), rate_hz=read.rate_hz or None,
        chunk_rows=settings.ingest.chunk_rows, max_field_chars=settings.ingest.max_field_chars,
        max_unpacked_mb=settings.ingest.max_upload_mb)


def log_options(settings: Settings, read: ReadOptions) -> LogOptions:
    """The :class:`LogOptions` the form asks for."""
    return LogOptions(
        format=read.log_format or "auto", mapping=parse_pairs(_lines(read.mapping), "--map"),
        source=read.source.strip() or None, kind=read.kind.strip() or None,
        asset_template=read.asset_template.strip() or None, timezone=read.timezone.strip() or settings.timezone,
        time_format=read.time_format.strip() or None, columns=parse_names(read.columns),
        allow_no_asset=read.allow_no_asset, allow_no_time=read.allow_no_time,
        max_field_chars=settings.ingest.max_field_chars, max_unpacked_mb=settings.ingest.max_upload_mb)


@dataclass(frozen=True, slots=True)
class UploadOptions:
    create_assets: bool = False
    asset_type: str = "generic"
    cell: str | None = None  # weld images: the weld cell (asset) they come from
    replace: bool = False  # replace the earlier batch of this file in the same transaction
    read: ReadOptions = ReadOptions()


def check_size(name: str, size: int, settings: Settings) -> None:
    """Refuse a file above ``ingest.max_upload_mb`` before it is written anywhere."""
    limit = settings.ingest.max_upload_mb
    if size > limit * 1024 * 1024:
        msg = (f"{name}: {size / 1024 / 1024:.1f} MB is more than the upload limit of {limit:g} MB. "
               "Split the file, or ask an administrator to raise ingest.max_upload_mb.")
        raise UploadRejectedError(msg)


def check_extension(name: str, kind: str) -> None:
    allowed = KINDS[kind].extensions
    if not any(name.lower().endswith("." + e) for e in allowed):
        suffix = "".join(Path(name).suffixes[-2:]).lower() or "(none)"
        msg = (f"{name}: a {KINDS[kind].label.lower()} upload must be a "
               f"{' or '.join('.' + e for e in allowed)} file, not '{suffix}'.")
        raise UploadRejectedError(msg)


def ingest_upload(settings: Settings, kind: str, name: str, data: BinaryIO, size: int,
                  options: UploadOptions, progress: Progress) -> Any:
    """Write the upload to a temporary file and ingest it; returns the pipeline's IngestResult."""
    check_extension(name, kind)
    check_size(name, size, settings)
    with tempfile.TemporaryDirectory(prefix="plantpulse-upload-") as folder:
        path = Path(folder) / Path(name).name
        _write(data, path)
        progress(0.05, "Uploaded; validating")
        return _dispatch(settings, kind, path, name, options, progress)


def _write(data: BinaryIO, path: Path, head: int | None = None) -> None:
    """Copy the upload to ``path``: all of it, or (``head``) whole lines of its first bytes."""
    data.seek(0)
    with path.open("wb") as out:
        if head is None:
            while piece := data.read(1 << 20):
                out.write(piece)
        else:
            piece = data.read(head)
            more = bool(data.read(1))
            cut = piece.rfind(b"\n") + 1 if more else len(piece)
            out.write(piece[: cut or len(piece)])
    data.seek(0)


def preview_upload(settings: Settings, kind: str, name: str, data: BinaryIO, size: int,
                   options: UploadOptions, rows: int = 20) -> Preview:
    """The first ``rows`` rows of a sensor or log upload as the ingest will read them; nothing
    is stored. A text file is previewed from its first lines; a compressed or MATLAB file whole."""
    check_extension(name, kind)
    check_size(name, size, settings)
    head = data.read(4)
    text = not (head.startswith(GZIP_MAGIC) or head.startswith(ZIP_MAGIC) or name.lower().endswith((".mat", ".parquet", ".pq")))
    with tempfile.TemporaryDirectory(prefix="plantpulse-preview-") as folder:
        path = Path(folder) / Path(name).name
        _write(data, path, PREVIEW_BYTES if text else None)
        if kind == "sensors":
            return preview_sensor_file(path, options=sensor_options(settings, options.read), source=name, rows=rows)
        return preview_log_file(path, options=log_options(settings, options.read), source=name, rows=rows)


def _dispatch(settings: Settings, kind: str, path: Path, name: str, options: UploadOptions,
              progress: Progress) -> Any:
    db = open_database(settings)
    try:
        if kind == "sensors":
            return _sensors(settings, db, path, name, options, progress)
        if kind == "logs":
            from plantpulse.pipelines.ingest.entry import ingest_log_file

            return ingest_log_file(db, path, options=log_options(settings, options.read),
                                   create_assets=options.create_assets, asset_type=options.asset_type,
                                   max_upload_mb=settings.ingest.max_upload_mb, source=name,
                                   replace=options.replace)
        if kind == "images":
            return _images(settings, db, path, name, options, progress)
        from plantpulse.pipelines.ingest.entry import load_asset_registry

        return load_asset_registry(db, path, max_upload_mb=settings.ingest.max_upload_mb, source=name)
    finally:
        db.dispose()


def _sensors(settings: Settings, db: Any, path: Path, name: str, options: UploadOptions,
             progress: Progress) -> Any:
    from plantpulse.pipelines.ingest.entry import ingest_sensor_file

    total = {"size": max(path.stat().st_size, 1), "done": 0}

    def step(delta: int) -> None:
        total["done"] += delta
        progress(0.05 + 0.95 * min(1.0, total["done"] / total["size"]), "Loading readings")

    def opened(info: Any) -> None:
        total["size"] = max(int(info.progress_total), 1)

    return ingest_sensor_file(db, path, options=sensor_options(settings, options.read),
                              create_assets=options.create_assets, asset_type=options.asset_type,
                              max_upload_mb=settings.ingest.max_upload_mb, source=name,
                              progress=step, on_open=opened, replace=options.replace)


def _images(settings: Settings, db: Any, path: Path, name: str, options: UploadOptions,
            progress: Progress) -> Any:
    from plantpulse.connectors.images.archive import ArchiveLimits
    from plantpulse.connectors.images.connector import ImageOptions
    from plantpulse.pipelines.ingest.entry import ingest_image_upload

    ingest = settings.ingest
    limits = ArchiveLimits(max_upload_mb=ingest.max_upload_mb, max_zip_ratio=ingest.max_zip_ratio,
                           max_zip_members=ingest.max_zip_members)
    count = {"n": 0}

    def step(delta: int) -> None:
        count["n"] += delta
        progress(min(0.95, 0.05 + 0.01 * count["n"]), f"{count['n']} images read")

    return ingest_image_upload(db, path, image_store=settings.image_store,
                               options=ImageOptions(limits=limits, max_image_pixels=ingest.max_image_pixels),
                               asset=options.cell, create_assets=options.create_assets,
                               source=name, progress=step, replace=options.replace)
