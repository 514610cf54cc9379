"""The ingest job: a file -> its connector -> asset/channel ids -> one transaction.

Everything a file brings lands in one transaction together with its ``ingest_batches`` row, its
quarantined rows and its summary; a failed run is rolled back and recorded as a 'failed' batch.
Re-ingesting the same content with the same connector is a no-op that names the batch that has
it (unless that batch stored nothing, or ``replace`` asks to replace it in the same transaction);
rows re-sent in another file are skipped as duplicates, or quarantined when their value differs
from the stored one. :func:`delete_batch` removes a batch and what it stored.

Entry points, one per kind of input:

- :func:`ingest_sensor_file` - sensor CSV/Parquet (``csv``/``parquet`` connectors)
- :func:`ingest_log_file` - maintenance-log exports (``logs``)
- :func:`ingest_image_upload` - weld-image folders and zips (``images``)
- :func:`load_asset_registry` - the asset registry CSV
"""

from __future__ import annotations

from plantpulse.data.store.db import Database
from plantpulse.pipelines.ingest.assets import load_asset_registry
from plantpulse.pipelines.ingest.batch import IngestFailedError, IngestResult
from plantpulse.pipelines.ingest.images import ingest_image_upload
from plantpulse.pipelines.ingest.logs import ingest_log_file
from plantpulse.pipelines.ingest.removal import BatchInUseError, BatchNotFoundError, Removed, delete_batch
from plantpulse.pipelines.ingest.sensors import ingest_sensor_file

__all__ = [
    "BatchInUseError",
    "BatchNotFoundError",
    "IngestFailedError",
    "IngestResult",
    "Removed",
    "delete_batch",
    "describe",
    "ingest_image_upload",
    "ingest_log_file",
    "ingest_sensor_file",
    "load_asset_registry",
    "prepare_database",
]


def prepare_database(db: Database) -> None:
    """Create the schema on a fresh database; an older schema must be upgraded explicitly."""
    if db.current_revision() is None:
        db.upgrade()
    db.require_current()


def _count(n: int) -> str:
    return f"{n:,}"


def describe(result: IngestResult) -> str:
    """A few lines a plant engineer can read: what was stored, skipped and quarantined, and why."""
    if result.status == "skipped":
        return result.message
    s = result.summary
    what = {"sensors": "values", "logs": "events", "images": "images"}.get(s.get("kind", ""), "rows")
    lines = [f"Batch {result.batch_id} committed: {result.source} ({result.connector}"
             + (f", {s['layout']}" if "layout" in s else "") + f", {_count(result.rows_total)} rows"
             + (f" in {s['seconds']:.1f} s" if "seconds" in s else "") + ")"]
    replaced = s.get("replaced")
    if replaced:
        lines.append(f"  replaces batch {replaced['batch_id']} ({replaced['source']}): removed "
                     f"{_count(replaced['readings'] + replaced['events'] + replaced['images'])} {what} "
                     f"and {_count(replaced['quarantined'])} quarantined rows")
    stored = f"  stored {_count(result.loaded)} {what}"
    if s.get("kind") == "sensors":
        stored += f" of {len(s.get('channels', []))} channels for {s.get('assets', 0)} assets"
        if "time_span" in s:
            stored += f", {s['time_span'][0]} .. {s['time_span'][1]}"
    lines.append(stored)
    if s.get("naive_times"):
        lines.append(f"  {_count(s['naive_times'])} rows had timestamps without a zone, read as "
                     f"{s.get('timezone_for_naive_times', 'UTC')}")
    if s.get("assets_created_count"):
        lines.append(f"  created {s['assets_created_count']} assets")
    if result.duplicates:
        lines.append(f"  skipped {_count(result.duplicates)} duplicates (already stored, same value)")
    if s.get("empty_cells"):
        lines.append(f"  {_count(s['empty_cells'])} empty cells (no value given)")
    if result.quarantined:
        reasons = ", ".join(f"{k} {_count(v)}" for k, v in s.get("quarantine_reasons", {}).items())
        lines.append(f"  quarantined {_count(result.quarantined)}: {reasons}")
        lines.append(f"  see them with: plantpulse db quarantine --batch {result.batch_id}")
    if s.get("assets_unknown_count"):
        names = ", ".join(s.get("assets_unknown", [])[:5])
        lines.append(f"  unknown assets ({s['assets_unknown_count']}): {names}"
                     + (" ..." if s["assets_unknown_count"] > 5 else "")
                     + "; register them with `plantpulse ingest assets` or use --create-assets")
    if "images_without_class" in s:
        lines.append(f"  class labels: {_count(s.get('images_with_class', 0))} images have one "
                     f"({_count(s.get('class_labels_written', 0))} new or changed), "
                     f"{_count(s['images_without_class'])} have none")
    if s.get("other_files_count"):
        lines.append(f"  {s['other_files_count']} files were neither images nor labels (listed in the summary)")
    return "\n".join(lines)
