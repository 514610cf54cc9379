"""Uploads from the Data page into the ingest pipeline.

The browser sends the file to the Streamlit server (limited by ``ingest.max_upload_mb``), which
writes it to a private temporary file and hands it to the same ingest functions the CLI uses:
one transaction per file, bad rows quarantined with reasons, re-uploads detected by content.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import UploadRejectedError
from plantpulse.data.store.db import open_database

Progress = Callable[[float, str], None]


@dataclass(frozen=True, slots=True)
class UploadKind:
    label: str
    extensions: tuple[str, ...]
    help: str


KINDS = {
    "sensors": UploadKind("Sensor readings", ("csv", "parquet", "txt"),
                          "Wide (one column per channel) or long (asset, time, channel, value)."),
    "logs": UploadKind("Maintenance log", ("csv", "json", "txt"),
                       "CMMS exports: Azure PdM errors/maint/failures, MaintNet, or mapped columns."),
    "images": UploadKind("Weld images", ("zip",),
                         "A zip of PNG/JPG images, with optional YOLO label .txt files."),
    "assets": UploadKind("Asset registry", ("csv",), "Columns name, asset_type, site, line, model."),
}


@dataclass(frozen=True, slots=True)
class UploadOptions:
    create_assets: bool = False
    asset_type: str = "generic"
    cell: str | None = None  # weld images: the weld cell (asset) they come from


def check_size(name: str, size: int, settings: Settings) -> None:
    """Refuse a file above ``ingest.max_upload_mb`` before it is written anywhere."""
    limit = settings.ingest.max_upload_mb
    if size > limit * 1024 * 1024:
        msg = (f"{name}: {size / 1024 / 1024:.1f} MB is more than the upload limit of {limit:g} MB. "
               "Split the file, or ask an administrator to raise ingest.max_upload_mb.")
        raise UploadRejectedError(msg)


def check_extension(name: str, kind: str) -> None:
    allowed = KINDS[kind].extensions
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in allowed:
        msg = (f"{name}: a {KINDS[kind].label.lower()} upload must be a "
               f"{' or '.join('.' + e for e in allowed)} file, not '.{suffix or '(none)'}'.")
        raise UploadRejectedError(msg)


def ingest_upload(settings: Settings, kind: str, name: str, data: BinaryIO, size: int,
                  options: UploadOptions, progress: Progress) -> Any:
    """Write the upload to a temporary file and ingest it; returns the pipeline's IngestResult."""
    check_extension(name, kind)
    check_size(name, size, settings)
    with tempfile.TemporaryDirectory(prefix="plantpulse-upload-") as folder:
        path = Path(folder) / Path(name).name
        with path.open("wb") as out:
            while piece := data.read(1 << 20):
                out.write(piece)
        progress(0.05, "Uploaded; validating")
        return _dispatch(settings, kind, path, name, options, progress)


def _dispatch(settings: Settings, kind: str, path: Path, name: str, options: UploadOptions,
              progress: Progress) -> Any:
    db = open_database(settings)
    try:
        if kind == "sensors":
            return _sensors(settings, db, path, name, options, progress)
        if kind == "logs":
            from plantpulse.connectors.logs.connector import LogOptions
            from plantpulse.pipelines.ingest.entry import ingest_log_file

            return ingest_log_file(db, path, options=LogOptions(timezone=settings.timezone,
                                                                 max_field_chars=settings.ingest.max_field_chars),
                                   create_assets=options.create_assets, asset_type=options.asset_type,
                                   max_upload_mb=settings.ingest.max_upload_mb, source=name)
        if kind == "images":
            return _images(settings, db, path, name, options, progress)
        from plantpulse.pipelines.ingest.entry import load_asset_registry

        return load_asset_registry(db, path, max_upload_mb=settings.ingest.max_upload_mb, source=name)
    finally:
        db.dispose()


def _sensors(settings: Settings, db: Any, path: Path, name: str, options: UploadOptions,
             progress: Progress) -> Any:
    from plantpulse.connectors.sensors.options import SensorOptions
    from plantpulse.pipelines.ingest.entry import ingest_sensor_file

    total = {"size": max(path.stat().st_size, 1), "done": 0}

    def step(delta: int) -> None:
        total["done"] += delta
        progress(0.05 + 0.95 * min(1.0, total["done"] / total["size"]), "Loading readings")

    def opened(info: Any) -> None:
        total["size"] = max(int(info.progress_total), 1)

    return ingest_sensor_file(db, path,
                              options=SensorOptions(timezone=settings.timezone,
                                                    max_field_chars=settings.ingest.max_field_chars),
                              create_assets=options.create_assets, asset_type=options.asset_type,
                              max_upload_mb=settings.ingest.max_upload_mb, source=name,
                              progress=step, on_open=opened)


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
                               source=name, progress=step)
