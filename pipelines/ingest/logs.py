"""Ingest of maintenance-log exports into ``maintenance_events``.

Dedupe key: (source, external_id). A record whose key is already stored (or appeared earlier in
the file) with the same content is a duplicate and counted; with different content it is a
conflict and quarantined, so the stored event is never silently replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, tuple_

from plantpulse.connectors.logs.connector import LogConnector, LogOptions
from plantpulse.connectors.registry import get_connector
from plantpulse.data.core.hashing import sha256_file
from plantpulse.data.core.records import MaintenanceRecord, Rejection
from plantpulse.data.core.times import utcnow
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import MaintenanceEvent
from plantpulse.pipelines.ingest.accounting import require_something
from plantpulse.pipelines.ingest.assets import AssetResolver, unknown_asset_reason
from plantpulse.pipelines.ingest.batch import IngestResult, OpenBatch, check_upload, run_once

CHUNK = 5_000
_COMPARED = ("asset_id", "ts", "kind", "code", "component", "text", "action")


def _row(record: MaintenanceRecord, asset_id: int | None, batch_id: int) -> dict[str, Any]:
    return {"asset_id": asset_id, "ts": record.ts, "kind": record.kind, "code": record.code,
            "component": record.component, "text": record.text, "action": record.action,
            "source": record.source, "external_id": record.external_id, "batch_id": batch_id,
            "created_at": utcnow()}


def _stored(batch: OpenBatch, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    columns = [getattr(MaintenanceEvent, c) for c in (*_COMPARED, "source", "external_id", "batch_id")]
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        query = select(*columns).where(tuple_(MaintenanceEvent.source, MaintenanceEvent.external_id).in_(part))
        for row in batch.session.execute(query).mappings():
            found[(row["source"], row["external_id"])] = dict(row)
    return found


def _conflict(record: MaintenanceRecord, label: str, old: dict[str, Any], new: dict[str, Any],
              batch_id: int) -> Rejection:
    where = "earlier in this file" if old.get("batch_id") == batch_id else f"batch {old.get('batch_id')}"
    differs = ", ".join(c for c in _COMPARED if old.get(c) != new.get(c))
    reason = (f"event {record.external_id!r} of {record.source!r} is already stored ({where}) with "
              f"a different {differs}; the stored one was kept")
    return Rejection(label, record.line, None, reason, record.text, "conflict")


def _write(batch: OpenBatch, records: Sequence[MaintenanceRecord], assets: AssetResolver, label: str) -> None:
    if not records:
        return
    ids = assets.ids([r.asset or "" for r in records if r.asset])
    by_name = dict(zip([r.asset for r in records if r.asset], ids.tolist(), strict=True))
    rows, rejected = [], []
    stored = _stored(batch, list({(r.source, r.external_id) for r in records}))
    for record in records:
        asset_id = by_name.get(record.asset) if record.asset else None
        if record.asset and asset_id == -1:
            rejected.append(Rejection(label, record.line, "asset", unknown_asset_reason(record.asset),
                                      record.text, "unknown_asset"))
            continue
        row = _row(record, asset_id, batch.id)
        key = (record.source, record.external_id)
        if key in stored:
            old = stored[key]
            if all(old.get(c) == row[c] for c in _COMPARED):
                batch.stats.duplicates += 1
            else:
                rejected.append(_conflict(record, label, old, row, batch.id))
            continue
        stored[key] = row
        rows.append(row)
    if rows:
        batch.session.execute(insert(MaintenanceEvent), rows)
    batch.stats.loaded += len(rows)
    batch.quarantine(rejected)


def ingest_log_file(db: Database, path: str | Path, *, options: LogOptions | None = None,
                    create_assets: bool = False, asset_type: str = "generic",
                    max_upload_mb: float = 512.0, source: str | None = None,
                    replace: bool = False) -> IngestResult:
    """Ingest one maintenance-log export in one transaction; ``replace`` replaces the earlier
    batch of the same content or file name in the same transaction."""
    path = Path(path)
    label = source or path.name
    size = check_upload(path, max_upload_mb)
    reader: LogConnector = get_connector("logs", kind="logs")(options or LogOptions())
    preset = reader.preset(path)

    def work(batch: OpenBatch) -> None:
        assets = AssetResolver(batch.session, create_assets, asset_type)
        pending: list[MaintenanceRecord] = []
        kinds: dict[str, int] = {}
        for item in reader.read(path, label):
            batch.stats.rows_total += 1
            if isinstance(item, Rejection):
                batch.quarantine([item])
                continue
            kinds[item.kind] = kinds.get(item.kind, 0) + 1
            pending.append(item)
            if len(pending) >= CHUNK:
                _write(batch, pending, assets, label)
                pending = []
        _write(batch, pending, assets, label)
        require_something(batch, label, size, "records")
        batch.stats.details |= {"kind": "logs", "format": preset.name, "event_kinds": kinds,
                                **assets.summary()}

    return run_once(db, "logs", label, sha256_file(path), work, replace=replace)

