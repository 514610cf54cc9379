"""Assets during ingest: resolving names to ids, and loading an asset registry CSV.

A row that names an asset the database does not know is quarantined (so a typo never creates a
phantom machine) unless the caller asked to create unknown assets.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.hashing import sha256_file
from plantpulse.data.core.records import AssetSpec, Rejection
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import asset_ids, ensure_assets
from plantpulse.data.store.schema import Asset
from plantpulse.pipelines.ingest.batch import IngestResult, OpenBatch, check_upload, run_once

UNKNOWN = -1
REGISTRY_FIELDS = ("name", "asset_type", "site", "line", "model")
_LIMITS = {"name": 128, "asset_type": 64, "site": 64, "line": 64, "model": 64}
LIST_CAP = 50


def unknown_asset_reason(name: str) -> str:
    return (f"asset {name!r} is not registered; load it with `plantpulse ingest assets FILE` "
            "or pass --create-assets")


class AssetResolver:
    """Asset name -> id inside one batch's session, cached; optionally creating unknown ones."""

    def __init__(self, session: Session, create: bool, asset_type: str) -> None:
        self.session, self.create, self.asset_type = session, create, asset_type
        self._ids: dict[str, int] = {}
        self.created: list[str] = []
        self.unknown: set[str] = set()

    def ids(self, names: Sequence[str]) -> np.ndarray:
        """(K,) int64 ids of ``names``; -1 where the asset is unknown (and not created)."""
        missing = [n for n in dict.fromkeys(names) if n not in self._ids]
        if missing:
            found = asset_ids(self.session, missing)
            new = [n for n in missing if n not in found]
            if new and self.create:
                found |= self._create(new)
            for name in missing:
                self._ids[name] = found.get(name, UNKNOWN)
                if name not in found:
                    self.unknown.add(name)
        return np.array([self._ids[n] for n in names], dtype=np.int64)

    def _create(self, names: list[str]) -> dict[str, int]:
        """Insert new assets in one statement (one round trip, not one per asset)."""
        for name in names:
            AssetSpec(name, self.asset_type)  # validates the name
        rows: list[dict[str, Any]] = [{"name": n, "asset_type": self.asset_type, "site": "", "line": "", "model": None,
                 "attributes": {}} for n in names]
        created: dict[str, int] = dict(self.session.execute(insert(Asset).returning(Asset.name, Asset.id), rows).all())
        self.created.extend(names)
        return created

    def summary(self) -> dict[str, Any]:
        known = [n for n, i in self._ids.items() if i != UNKNOWN]
        return {"assets": len(known), "assets_created": self.created[:LIST_CAP],
                "assets_created_count": len(self.created),
                "assets_unknown": sorted(self.unknown)[:LIST_CAP], "assets_unknown_count": len(self.unknown)}


def _registry_row(row: dict[str, str | None], line: int, source: str) -> AssetSpec | Rejection:
    values = {k: (row.get(k) or "").strip() for k in REGISTRY_FIELDS}
    raw = ",".join(str(v) for v in row.values() if not isinstance(v, list))
    if None in row:  # more fields than the header has
        return Rejection(source, line, None, "more fields than the header names", raw, "field_count")
    for key in ("name", "asset_type"):
        if not values[key]:
            return Rejection(source, line, key, f"{key} is empty; every asset needs one", raw, "missing_field")
    for key, limit in _LIMITS.items():
        if len(values[key]) > limit:
            return Rejection(source, line, key, f"{key} is longer than {limit} characters", raw, "too_long")
    extra = {k: v for k, v in row.items() if k not in REGISTRY_FIELDS and k is not None and v not in (None, "")}
    return AssetSpec(values["name"], values["asset_type"], values["site"], values["line"],
                     values["model"] or None, extra)


def read_registry(path: Path, source: str) -> tuple[list[tuple[int, AssetSpec]], list[Rejection]]:
    """(line, spec) of every good row and the rejected rows of an asset registry CSV."""
    specs: list[tuple[int, AssetSpec]] = []
    rejected: list[Rejection] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in reader.fieldnames or []]
            if not {"name", "asset_type"} <= set(header):
                msg = (f"{source}:1: an asset registry needs the columns name and asset_type "
                       f"(optional: site, line, model). Got: {', '.join(header) or 'no header'}.")
                raise InputDataError(msg)
            reader.fieldnames = header
            line = 1
            for row in reader:
                first, line = line + 1, reader.line_num
                item = _registry_row(row, first, source)
                (specs.append((first, item)) if isinstance(item, AssetSpec) else rejected.append(item))
    except UnicodeDecodeError as err:
        raise InputDataError(f"{source}: not UTF-8 text ({err.reason}); save it as UTF-8.") from err
    return specs, rejected


def _upsert(batch: OpenBatch, specs: list[tuple[int, AssetSpec]], source: str) -> None:
    session, stats = batch.session, batch.stats
    seen: dict[str, AssetSpec] = {}
    stored = {a.name: a for a in session.scalars(select(Asset).where(Asset.name.in_([s.name for _, s in specs])))}
    created = updated = 0
    for line, spec in specs:
        if spec.name in seen:
            if seen[spec.name] != spec:
                reason = f"asset {spec.name!r} appears again with other details; the first row was kept"
                batch.quarantine([Rejection(source, line, "name", reason, spec.name, "conflict")])
            else:
                stats.duplicates += 1
            continue
        seen[spec.name] = spec
        asset = stored.get(spec.name)
        if asset is None:
            ensure_assets(session, [spec])
            created += 1
        elif (asset.asset_type, asset.site, asset.line, asset.model, asset.attributes) != (
                spec.asset_type, spec.site, spec.line, spec.model, dict(spec.attributes)):
            asset.asset_type, asset.site, asset.line = spec.asset_type, spec.site, spec.line
            asset.model, asset.attributes = spec.model, dict(spec.attributes)
            updated += 1
        else:
            stats.duplicates += 1
    stats.loaded = created + updated
    stats.details |= {"assets_created": created, "assets_updated": updated}


def load_asset_registry(db: Database, path: str | Path, *, max_upload_mb: float = 512.0,
                        source: str | None = None) -> IngestResult:
    """Create or update the assets listed in a registry CSV (name, asset_type, site, line, model)."""
    path = Path(path)
    source = source or path.name
    check_upload(path, max_upload_mb)

    def work(batch: OpenBatch) -> None:
        specs, rejected = read_registry(path, source)
        batch.stats.rows_total = len(specs) + len(rejected)
        batch.quarantine(rejected)
        _upsert(batch, specs, source)

    return run_once(db, "assets", source, sha256_file(path), work)
