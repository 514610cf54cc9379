"""Move buffered OPC-UA samples into the database, exactly once.

One flush is one transaction: an ``ingest_batches`` row, the good readings (``write_readings``,
duplicate-safe on (asset, ts, channel)) and the refused samples (``quarantined_rows``, with their
reasons). The batch's ``content_sha256`` names the buffer and the first sequence number, so when
a process dies after the commit but before the buffer learnt of it, the next flush finds the
committed batch and only advances the buffer: nothing is written twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from plantpulse.connectors.opcua.buffer import PendingBlock, Target
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import AssetSpec, ChannelSpec, Rejection
from plantpulse.data.core.times import utcnow
from plantpulse.data.store.bulk import ReadingBlock, write_readings
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import ensure_assets, ensure_channels, find_committed_batch, quarantine
from plantpulse.data.store.schema import IngestBatch

CONNECTOR = "opcua"


@dataclass(frozen=True, slots=True)
class FlushResult:
    batch_id: int
    through_seq: int
    loaded: int
    duplicates: int
    quarantined: int
    replayed: bool = False  # the batch had been committed by an earlier flush


class DatabaseSink:
    """Writes pending blocks of one buffer into ``db``; resolves asset and channel ids once."""

    def __init__(self, db: Database, endpoint: str, buffer_id: str) -> None:
        self.db = db
        self.endpoint = endpoint
        self.buffer_id = buffer_id
        self._ids: dict[int, tuple[int, int] | str] = {}  # target -> (asset id, channel id) | error

    def batch_key(self, first_seq: int) -> str:
        return hashlib.sha256(f"opcua-buffer:{self.buffer_id}:{first_seq}".encode()).hexdigest()

    def flush(self, block: PendingBlock, targets: dict[int, Target]) -> FlushResult:
        """Write ``block`` in one transaction (or find it already written)."""
        key = self.batch_key(block.first_seq)
        with self.db.session() as session:
            done = find_committed_batch(session, CONNECTOR, key)
            if done is not None:
                through = int(done.summary.get("last_seq", block.last_seq))
                return FlushResult(done.id, through, 0, 0, 0, replayed=True)
            fresh = self._resolve(session, {t for t in block.target if t not in self._ids}, targets)
            good, rejections = self._split(block, targets, self._ids | fresh, self.endpoint)
            batch = IngestBatch(connector=CONNECTOR, source=self.endpoint[:512], content_sha256=key,
                                status="committed", rows_total=len(block),
                                summary={"buffer": self.buffer_id, "first_seq": block.first_seq,
                                         "last_seq": block.last_seq})
            session.add(batch)
            session.flush()
            written = write_readings(session.connection(), good, batch.id)
            quarantined = quarantine(session, batch.id, rejections)
            batch.rows_loaded, batch.rows_duplicate = written.inserted, written.duplicates
            batch.rows_quarantined, batch.finished_at = quarantined, utcnow()
        self._ids.update(fresh)  # only ids from a committed transaction are remembered
        return FlushResult(batch.id, block.last_seq, written.inserted, written.duplicates, quarantined)

    def _resolve(self, session, wanted: set[int], targets: dict[int, Target],
                 ) -> dict[int, tuple[int, int] | str]:
        """Asset and channel ids per target; a channel the database refuses records why.

        ``ensure_channels`` checks a known channel's unit before writing anything, so a refused
        channel leaves the transaction clean.
        """
        out: dict[int, tuple[int, int] | str] = {}
        chosen = [targets[tid] for tid in sorted(wanted)]
        assets = ensure_assets(session, {t.asset: AssetSpec(t.asset, t.asset_type) for t in chosen}.values())
        for t in chosen:
            try:
                channel = ensure_channels(session, [ChannelSpec(t.channel, t.unit)])[t.channel]
            except InputDataError as err:
                out[t.id] = f"node {t.node} cannot be stored: {err}"
            else:
                out[t.id] = (assets[t.asset], channel)
        return out

    @staticmethod
    def _split(block: PendingBlock, targets: dict[int, Target], ids: dict[int, tuple[int, int] | str],
               endpoint: str) -> tuple[ReadingBlock, list[Rejection]]:
        keep, rejections = [], []
        for i, tid in enumerate(block.target):
            where, reason = ids[tid], block.reason[i]
            if reason is None and isinstance(where, tuple):
                keep.append(i)
                continue
            t = targets[tid]
            rejections.append(Rejection(
                source=f"{endpoint}#{t.node}", line=None, column=f"{t.asset}/{t.channel}"[:128],
                reason=reason if reason is not None else str(where),
                raw=block.raw[i] or json.dumps({"value": block.value[i], "ts_us": block.ts_us[i]})))
        idx = np.asarray(keep, dtype=np.int64)
        pairs = np.asarray([ids[block.target[i]] for i in keep], dtype=np.int64).reshape(-1, 2)
        readings = ReadingBlock.build(
            asset_id=pairs[:, 0], ts_us=np.asarray(block.ts_us, dtype=np.int64)[idx], channel_id=pairs[:, 1],
            value=np.asarray([block.value[i] for i in keep], dtype=np.float64),
            status=_int32_codes(np.asarray(block.status, dtype=np.int64)[idx]),
        )
        return readings, rejections


def _int32_codes(codes: np.ndarray) -> np.ndarray:
    """OPC-UA status codes are UInt32; the readings table stores their bits as int32."""
    return codes.astype(np.uint32).view(np.int32)


def database_sinks(db: Database, endpoint: str) -> Callable[[str], DatabaseSink]:
    """The sink factory the OPC-UA connector is given: one :class:`DatabaseSink` per buffer."""
    return lambda buffer_id: DatabaseSink(db, endpoint, buffer_id)
