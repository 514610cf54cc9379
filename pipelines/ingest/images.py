"""Ingest of weld-image uploads: pixels into the content-addressed store, metadata and imported
YOLO labels into ``weld_images``/``weld_labels``, rejected files and label lines into quarantine.

An image whose sha256 is already stored is a duplicate: counted, not stored twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select

from plantpulse.connectors.images.archive import open_upload
from plantpulse.connectors.images.connector import ImageConnector, ImageOptions
from plantpulse.connectors.registry import get_connector
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.hashing import sha256_file
from plantpulse.data.core.records import Rejection, WeldImageFile
from plantpulse.data.store.db import Database
from plantpulse.data.store.image_store import store_image
from plantpulse.data.store.schema import WeldImage, WeldLabel
from plantpulse.pipelines.ingest.assets import LIST_CAP, AssetResolver, unknown_asset_reason
from plantpulse.pipelines.ingest.batch import IngestResult, OpenBatch, Progress, run_once


def upload_sha256(path: Path, options: ImageOptions) -> str:
    """Content hash of an upload: the zip's bytes, or a folder's file names and bytes."""
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    with open_upload(path, path.name, options.limits) as entries:
        for entry in entries:
            digest.update(entry.name.encode() + b"\0" + hashlib.sha256(entry.read()).digest())
    return digest.hexdigest()


def _store(batch: OpenBatch, item: WeldImageFile, store: Path, asset_id: int | None) -> None:
    relative = store_image(store, item.sha256, item.format, item.data)
    image = WeldImage(sha256=item.sha256, storage_path=relative, original_name=item.name[:512],
                      width=item.width, height=item.height, format=item.format, asset_id=asset_id,
                      batch_id=batch.id)
    batch.session.add(image)
    batch.session.flush()
    if item.labels is not None:
        batch.session.add(WeldLabel(image_id=image.id, source="import", boxes=[b.as_dict() for b in item.labels],
                                    author=(item.label_name or "")[:128]))


def _summary(reader: ImageConnector) -> dict[str, object]:
    contents = reader.contents
    return {
        "kind": "images", "images_found": contents.images, "label_files": contents.labels,
        "class_file": contents.class_file, "classes": list(contents.classes),
        "unmatched_label_files": contents.unmatched_labels[:LIST_CAP],
        "other_files": contents.other_files[:LIST_CAP],
        "other_files_count": len(contents.other_files) + len(contents.unmatched_labels),
    }


def _load(batch: OpenBatch, items: Iterable[WeldImageFile | Rejection], store: Path, asset_id: int | None,
          progress: Progress | None) -> None:
    seen: set[str] = set()
    for item in items:
        if isinstance(item, Rejection):
            batch.quarantine([item])
            batch.stats.rows_total += item.code != "bad_label"  # a label line is not an input file
            continue
        batch.stats.rows_total += 1
        stored = item.sha256 in seen or batch.session.scalar(
            select(WeldImage.id).where(WeldImage.sha256 == item.sha256)) is not None
        seen.add(item.sha256)
        if stored:
            batch.stats.duplicates += 1
        else:
            _store(batch, item, store, asset_id)
            batch.stats.loaded += 1
        if progress is not None:
            progress(1)


def ingest_image_upload(db: Database, path: str | Path, *, image_store: Path,
                        options: ImageOptions | None = None, asset: str | None = None,
                        create_assets: bool = False, asset_type: str = "weld_cell",
                        source: str | None = None, progress: Progress | None = None,
                        replace: bool = False) -> IngestResult:
    """Ingest a folder or zip of weld images (one transaction; pixels written content-addressed);
    ``replace`` replaces the earlier batch of the same content or name in the same transaction."""
    path = Path(path)
    label = source or path.name
    options = options or ImageOptions()
    reader: ImageConnector = get_connector("images", kind="images")(options)
    sha = upload_sha256(path, options)

    def work(batch: OpenBatch) -> None:
        asset_id = None
        if asset is not None:
            asset_id = int(AssetResolver(batch.session, create_assets, asset_type).ids([asset])[0])
            if asset_id < 0:
                raise InputDataError(unknown_asset_reason(asset))
        _load(batch, reader.read(path, label), image_store, asset_id, progress)
        batch.stats.details |= _summary(reader)

    return run_once(db, "images", label, sha, work, replace=replace)
