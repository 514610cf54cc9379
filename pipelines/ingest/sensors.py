"""Ingest of sensor files: connector chunks -> asset/channel ids -> checked bulk writes.

Per chunk: the connector's rejections are quarantined, rows of unknown assets are quarantined,
the readings are written with :func:`write_readings_checked` (re-sent rows with the same value are
counted as duplicates; with another value they are quarantined as conflicts). The next chunk is
parsed in a background thread while this one is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from plantpulse.connectors.registry import connector_for_file, get_connector
from plantpulse.connectors.sensors.options import SensorOptions
from plantpulse.data.core.hashing import sha256_file
from plantpulse.data.core.records import Rejection, SensorChunk, SensorSourceInfo
from plantpulse.data.store.bulk import ReadingBlock
from plantpulse.data.store.bulk_checked import NO_BATCH, write_readings_checked
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import ensure_channels
from plantpulse.pipelines.ingest.accounting import require_something
from plantpulse.pipelines.ingest.assets import AssetResolver, unknown_asset_reason
from plantpulse.pipelines.ingest.batch import (
    IngestResult,
    OpenBatch,
    Progress,
    check_upload,
    run_once,
)
from plantpulse.pipelines.ingest.prefetch import prefetch

log = logging.getLogger(__name__)


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat().replace("+00:00", "Z")


class SensorWriter:
    """Writes one file's chunks into an open batch and keeps its counts."""

    def __init__(self, batch: OpenBatch, create_assets: bool, asset_type: str) -> None:
        self.batch = batch
        self.assets = AssetResolver(batch.session, create_assets, asset_type)
        self.channel_ids: dict[str, int] = {}
        self.counts = {"values_conflict": 0, "empty_cells": 0, "blank_lines": 0, "naive_times": 0, "chunks": 0}
        self.span: list[int] = []

    def _channels(self, chunk: SensorChunk) -> np.ndarray:
        new = [spec for spec in chunk.channels if spec.name not in self.channel_ids]
        if new:
            self.channel_ids |= ensure_channels(self.batch.session, new)
        return np.array([self.channel_ids[s.name] for s in chunk.channels] or [0], dtype=np.int64)

    def _unknown_rows(self, chunk: SensorChunk, unknown: np.ndarray) -> list[Rejection]:
        index = np.flatnonzero(unknown)
        lines, first = np.unique(chunk.line[index], return_index=True)
        names = [chunk.assets[int(chunk.asset[i])] for i in index[first].tolist()]
        source = self.batch.batch.source
        return [Rejection(source, int(line), chunk.asset_column, unknown_asset_reason(name),
                          chunk.raw.text(int(line)) if chunk.raw else "", "unknown_asset")
                for line, name in zip(lines.tolist(), names, strict=True)]

    def _conflicts(self, chunk: SensorChunk, kept: np.ndarray, result) -> list[Rejection]:
        rejections = []
        source = self.batch.batch.source
        for k, value, batch in zip(result.conflicts.index.tolist(), result.conflicts.stored_value.tolist(),
                                   result.conflicts.stored_batch.tolist(), strict=True):
            i = int(kept[k])
            channel = int(chunk.channel[i])
            where = "earlier in this file" if batch == self.batch.id else (
                f"batch {batch}" if batch != NO_BATCH else "an earlier write")
            reason = (f"asset {chunk.assets[int(chunk.asset[i])]!r}, channel {chunk.channels[channel].name!r} "
                      f"at {_iso(int(chunk.ts_us[i]))} already holds {value!r} ({where}); "
                      f"the value {float(chunk.value[i])!r} was not stored")
            line = int(chunk.line[i])
            rejections.append(Rejection(source, line, chunk.columns[channel], reason,
                                        chunk.raw.text(line) if chunk.raw else "", "conflict"))
        return rejections

    def write(self, chunk: SensorChunk) -> int:
        """Store one chunk; returns how many readings were inserted."""
        stats = self.batch.stats
        stats.rows_total += chunk.rows
        self.counts["empty_cells"] += chunk.empty_cells
        self.counts["blank_lines"] += chunk.blank_lines
        self.counts["naive_times"] += chunk.naive_times
        self.counts["chunks"] += 1
        self.batch.quarantine(chunk.rejections)
        if len(chunk) == 0:
            return 0
        asset_id = self.assets.ids(chunk.assets)[chunk.asset]
        unknown = asset_id < 0
        kept = np.arange(len(chunk))
        ts, value, status, channel = chunk.ts_us, chunk.value, chunk.status, chunk.channel
        if unknown.any():
            self.batch.quarantine(self._unknown_rows(chunk, unknown))
            kept = np.flatnonzero(~unknown)
            asset_id, ts, value, status, channel = (asset_id[kept], ts[kept], value[kept], status[kept],
                                                    channel[kept])
        block = ReadingBlock.build(asset_id, ts, self._channels(chunk)[channel], value, status)
        result = write_readings_checked(self.batch.session.connection(), block, self.batch.id)
        if len(result.conflicts):
            self.batch.quarantine(self._conflicts(chunk, kept, result))
        self.counts["values_conflict"] += len(result.conflicts)
        stats.loaded += result.inserted
        stats.duplicates += result.duplicates
        if len(block):
            lo, hi = int(block.ts_us.min()), int(block.ts_us.max())
            self.span = [min(self.span[0], lo), max(self.span[1], hi)] if self.span else [lo, hi]
        return result.inserted

    def finish(self, info: SensorSourceInfo) -> None:
        details = self.batch.stats.details
        details |= {"kind": "sensors", "layout": info.layout, "time_column": info.time_column,
                    "asset_column": info.asset_column, "timezone_for_naive_times": info.timezone,
                    "channels": sorted(self.channel_ids), **self.counts, **self.assets.summary()}
        if info.notes:
            details["notes"] = list(info.notes)
        if self.span:
            details["time_span"] = [_iso(self.span[0]), _iso(self.span[1])]


def ingest_sensor_file(db: Database, path: str | Path, *, connector: str = "auto",
                       options: SensorOptions | None = None, create_assets: bool = False,
                       asset_type: str = "generic", max_upload_mb: float = 512.0,
                       source: str | None = None, progress: Progress | None = None,
                       on_open: Callable[[SensorSourceInfo], None] | None = None,
                       replace: bool = False) -> IngestResult:
    """Ingest one sensor file in one transaction (see the module docstring).

    ``connector`` "auto" picks it from the file name (:func:`connector_for_file`). ``replace``
    replaces the earlier batch of the same content or file name in the same transaction.
    """
    path = Path(path)
    source = source or path.name
    size = check_upload(path, max_upload_mb)
    connector = connector_for_file(source if connector == "auto" and source else path, "sensors", connector)
    reader = get_connector(connector, kind="sensors")(options or SensorOptions())

    def work(batch: OpenBatch) -> None:
        stream = reader.open(path, source)
        if on_open is not None:
            on_open(stream.info)
        writer = SensorWriter(batch, create_assets, asset_type)
        done = 0
        for chunk in prefetch(stream.chunks):
            inserted = writer.write(chunk)
            log.debug("%s: chunk %d written (%d rows, %d values stored)", source,
                      writer.counts["chunks"], chunk.rows, inserted)
            if progress is not None:
                progress(chunk.progress - done)
            done = chunk.progress
        writer.finish(stream.info)
        require_something(batch, source, size, "data rows", accounted=writer.counts["empty_cells"])

    return run_once(db, connector, source, sha256_file(path), work, replace=replace)
