"""Ingest of weld-image uploads: pixels into the content-addressed store, metadata and imported
YOLO labels into ``weld_images``/``weld_labels``, rejected files and label lines into quarantine.

An image whose sha256 is already stored is a duplicate: counted, not stored twice. Whole-image
class labels (class folders or a labels CSV, :mod:`plantpulse.connectors.images.classes`) become
``weld_labels`` rows of source ``class`` without boxes, for a new image and for one already
stored alike; a class equal to the image's current class label is not written again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select

from plantpulse.connectors.images.archive import open_upload
from plantpulse.connectors.images.classes import ClassLabels
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


def upload_sha256(path: Path, options: ImageOptions, classes: ClassLabels | None = None) -> str:
    """Content hash of an upload: the zip's bytes, or a folder's file names and bytes; with class
    labels, also where they come from (folders, or the labels CSV's bytes)."""
    if path.is_file():
        content = sha256_file(path)
    else:
        digest = hashlib.sha256()
        with open_upload(path, path.name, options.limits) as entries:
            for entry in entries:
                digest.update(entry.name.encode() + b"\0" + hashlib.sha256(entry.read()).digest())
        content = digest.hexdigest()
    if classes is None or not (classes.from_folders or classes.table):
        return content
    how = b"csv\0" + hashlib.sha256(classes.table.data).digest() if classes.table else b"folders"
    return hashlib.sha256(content.encode() + b"\0classes\0" + how).hexdigest()


def _class_label(batch: OpenBatch, image_id: int, item: WeldImageFile, origin: str) -> None:
    """A ``class`` label for the image unless its latest class label already says the same."""
    if item.class_name is None:
        return
    batch.stats.details["images_with_class"] = batch.stats.details.get("images_with_class", 0) + 1
    latest = batch.session.scalar(
        select(WeldLabel.class_name).where(WeldLabel.image_id == image_id, WeldLabel.source == "class")
        .order_by(WeldLabel.created_at.desc(), WeldLabel.id.desc()).limit(1))
    if latest == item.class_name:
        return
    batch.session.add(WeldLabel(image_id=image_id, source="class", boxes=[], class_name=item.class_name,
                                author=origin[:128]))
    batch.stats.details["class_labels_written"] = batch.stats.details.get("class_labels_written", 0) + 1


def _store(batch: OpenBatch, item: WeldImageFile, store: Path, asset_id: int | None) -> int:
    relative = store_image(store, item.sha256, item.format, item.data)
    image = WeldImage(sha256=item.sha256, storage_path=relative, original_name=item.name[:512],
                      width=item.width, height=item.height, format=item.format, asset_id=asset_id,
                      batch_id=batch.id)
    batch.session.add(image)
    batch.session.flush()
    if item.labels is not None:
        batch.session.add(WeldLabel(image_id=image.id, source="import", boxes=[b.as_dict() for b in item.labels],
                                    author=(item.label_name or "")[:128]))
    return image.id


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
          progress: Progress | None, origin: str) -> None:
    seen: dict[str, int] = {}
    for item in items:
        if isinstance(item, Rejection):
            batch.quarantine([item])
            # a label line or a labels-CSV row is not an input file
            batch.stats.rows_total += item.code not in ("bad_label", "bad_class_label")
            continue
        batch.stats.rows_total += 1
        image_id = seen.get(item.sha256) or batch.session.scalar(
            select(WeldImage.id).where(WeldImage.sha256 == item.sha256))
        if image_id is not None:
            batch.stats.duplicates += 1
        else:
            image_id = _store(batch, item, store, asset_id)
            batch.stats.loaded += 1
        seen[item.sha256] = image_id
        _class_label(batch, image_id, item, origin)
        if progress is not None:
            progress(1)


def ingest_image_upload(db: Database, path: str | Path, *, image_store: Path,
                        options: ImageOptions | None = None, asset: str | None = None,
                        create_assets: bool = False, asset_type: str = "weld_cell",
                        source: str | None = None, progress: Progress | None = None,
                        replace: bool = False, classes: ClassLabels | None = None) -> IngestResult:
    """Ingest a folder or zip of weld images (one transaction; pixels written content-addressed);
    ``replace`` replaces the earlier batch of the same content or name in the same transaction;
    ``classes``: where whole-image class labels come from (none by default)."""
    path = Path(path)
    label = source or path.name
    options = options or ImageOptions()
    reader: ImageConnector = get_connector("images", kind="images")(options, classes)
    sha = upload_sha256(path, options, classes)
    origin = (classes.table.name if classes.table else "class folders") if classes else ""

    def work(batch: OpenBatch) -> None:
        asset_id = None
        if asset is not None:
            asset_id = int(AssetResolver(batch.session, create_assets, asset_type).ids([asset])[0])
            if asset_id < 0:
                raise InputDataError(unknown_asset_reason(asset))
        _load(batch, reader.read(path, label), image_store, asset_id, progress, origin)
        batch.stats.details |= _summary(reader)
        if origin:
            with_class = batch.stats.details.get("images_with_class", 0)
            images = batch.stats.loaded + batch.stats.duplicates
            batch.stats.details |= {"classes_from": origin, "images_without_class": images - with_class}

    return run_once(db, "images", label, sha, work, replace=replace)
