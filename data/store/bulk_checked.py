"""Bulk writes of sensor readings that tell re-sent duplicates from conflicting values.

``write_readings`` skips a row whose key (asset, ts, channel) is already stored. Ingest needs to
know more: whether the stored value is the same (a harmless duplicate, counted) or different (a
conflict, which must be quarantined rather than silently dropped). :func:`write_readings_checked`
fetches the stored rows inside the block's per-asset time spans (one indexed range scan per asset;
nothing is fetched when the block cannot collide), matches keys with numpy, and writes only the
new rows through ``write_readings``. Repeated keys inside the block are judged the same way,
against the stored value, or the key's first occurrence when none is stored: that one is kept,
later ones are duplicates or conflicts.

All work happens inside the caller's transaction, so rows written earlier in the same batch count
as stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection

from plantpulse.data.store.bulk import PG_EPOCH_US, ReadingBlock, write_readings
from plantpulse.data.store.db import driver_connection

_PG_OUT_ROW = np.dtype([
    ("n", ">i2"),
    ("l_asset", ">i4"), ("asset", ">i4"),
    ("l_ts", ">i4"), ("ts", ">i8"),
    ("l_channel", ">i4"), ("channel", ">i2"),
    ("l_value", ">i4"), ("value", ">f8"),
    ("l_batch", ">i4"), ("batch", ">i4"),
])
_PG_OUT_HEADER = 19  # signature (11) + flags (4) + header extension length (4, always 0 here)
NO_BATCH = -1


@dataclass(frozen=True, slots=True)
class StoredRows:
    """Stored readings, sorted by key: asset, ts_us, channel, value, batch (-1 = none), all (M,)."""

    asset: np.ndarray
    ts_us: np.ndarray
    channel: np.ndarray
    value: np.ndarray
    batch: np.ndarray

    def __len__(self) -> int:
        return int(self.asset.shape[0])


@dataclass(frozen=True, slots=True)
class Conflicts:
    """Rows of the written block whose key already held another value.

    index (K,) int64 positions in the block as the caller gave it; stored_value (K,) float64 the
    value that stays stored; stored_batch (K,) int64 the batch that wrote it (-1: none recorded).
    """

    index: np.ndarray
    stored_value: np.ndarray
    stored_batch: np.ndarray

    def __len__(self) -> int:
        return int(self.index.shape[0])


@dataclass(frozen=True, slots=True)
class CheckedWrite:
    inserted: int
    duplicates: int
    conflicts: Conflicts


def _empty_stored() -> StoredRows:
    return StoredRows(np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.int16),
                      np.empty(0, np.float64), np.empty(0, np.int64))


def _spans(block: ReadingBlock) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per asset of a key-sorted block: asset id, first and last timestamp (µs)."""
    assets, starts = np.unique(block.asset_id, return_index=True)
    ends = np.append(starts[1:], len(block)) - 1
    return assets, block.ts_us[starts], block.ts_us[ends]


def _stored_sqlite(connection: Connection, block: ReadingBlock) -> StoredRows:
    raw = driver_connection(connection)
    parts: list[tuple[int, int, int, float, int]] = []
    query = ("SELECT asset_id, ts, channel_id, value, coalesce(batch_id, -1) FROM sensor_readings "
             "WHERE asset_id = ? AND ts BETWEEN ? AND ? ORDER BY ts, channel_id")
    for asset, lo, hi in zip(*(x.tolist() for x in _spans(block)), strict=True):
        parts.extend(raw.execute(query, (asset, lo, hi)).fetchall())
    if not parts:
        return _empty_stored()
    a, t, c, v, b = zip(*parts, strict=True)
    return StoredRows(np.asarray(a, np.int32), np.asarray(t, np.int64), np.asarray(c, np.int16),
                      np.asarray(v, np.float64), np.asarray(b, np.int64))


_PG_SPANS = "unnest(%s::int[], %s::bigint[], %s::bigint[]) AS b(a, lo, hi)"
_PG_IN_SPAN = (
    "r.asset_id = b.a AND r.ts BETWEEN "
    "timestamptz '2000-01-01 00:00:00+00' + b.lo * interval '1 microsecond' AND "
    "timestamptz '2000-01-01 00:00:00+00' + b.hi * interval '1 microsecond'"
)


def _stored_postgres(connection: Connection, block: ReadingBlock) -> StoredRows:
    raw = driver_connection(connection)
    assets, lo, hi = _spans(block)
    params = (assets.tolist(), (lo - PG_EPOCH_US).tolist(), (hi - PG_EPOCH_US).tolist())
    with raw.cursor() as cursor:
        # correlated per span, so each probe is a primary-key range scan whatever the statistics say
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {_PG_SPANS} WHERE EXISTS "
                       f"(SELECT 1 FROM sensor_readings r WHERE {_PG_IN_SPAN}))", params)
        if not cursor.fetchone()[0]:
            return _empty_stored()
        query = (f"COPY (SELECT r.asset_id, r.ts, r.channel_id, r.value, coalesce(r.batch_id, -1) "
                 f"FROM {_PG_SPANS} CROSS JOIN LATERAL (SELECT * FROM sensor_readings r WHERE {_PG_IN_SPAN}) r "
                 "ORDER BY 1, 2, 3) TO STDOUT (FORMAT BINARY)")
        payload = bytearray()
        with cursor.copy(query, params) as copy:
            for data in copy:
                payload += data
    rows = np.frombuffer(bytes(payload[_PG_OUT_HEADER:-2]), dtype=_PG_OUT_ROW)
    return StoredRows(rows["asset"].astype(np.int32), rows["ts"].astype(np.int64) + PG_EPOCH_US,
                      rows["channel"].astype(np.int16), rows["value"].astype(np.float64),
                      rows["batch"].astype(np.int64))


def stored_readings(connection: Connection, block: ReadingBlock) -> StoredRows:
    """Stored readings of the block's assets inside its time spans; ``block`` must be key-sorted."""
    if len(block) == 0:
        return _empty_stored()
    if connection.dialect.name == "postgresql":
        return _stored_postgres(connection, block)
    return _stored_sqlite(connection, block)


def _match(block: ReadingBlock, stored: StoredRows) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in block, in stored) of equal keys; both sides are unique and key-sorted."""
    n = len(block)
    a = np.concatenate([block.asset_id, stored.asset])
    t = np.concatenate([block.ts_us, stored.ts_us])
    c = np.concatenate([block.channel_id, stored.channel])
    side = np.concatenate([np.zeros(n, np.int8), np.ones(len(stored), np.int8)])
    order = np.lexsort((side, c, t, a))
    a, t, c = a[order], t[order], c[order]
    pair = np.flatnonzero((a[1:] == a[:-1]) & (t[1:] == t[:-1]) & (c[1:] == c[:-1]))
    return order[pair], order[pair + 1] - n


def _repeats(block: ReadingBlock) -> np.ndarray:
    """For a key-sorted block: the rows repeating an earlier row's key."""
    same = (
        (block.asset_id[1:] == block.asset_id[:-1])
        & (block.ts_us[1:] == block.ts_us[:-1])
        & (block.channel_id[1:] == block.channel_id[:-1])
    )
    return np.flatnonzero(same) + 1


def write_readings_checked(connection: Connection, block: ReadingBlock,
                           batch_id: int | None) -> CheckedWrite:
    """Insert the block's new rows; report duplicates (same value) and conflicts (other value).

    Each key's reference is its stored value, or, for a key not yet stored, its first occurrence in
    the block: a repeat is judged against that reference, never against a rejected value."""
    order = block.sort_order()
    position = np.arange(len(block)) if order is None else order
    ordered = block if order is None else block.take(order)
    later = _repeats(ordered)
    keep = np.ones(len(ordered), bool)
    keep[later] = False
    unique = ordered.take(keep)
    key_of = np.cumsum(keep) - 1  # each row's key: its index in ``unique``
    ref_value = unique.value.astype(np.float64)
    ref_batch = np.full(len(unique), NO_BATCH if batch_id is None else batch_id, np.int64)
    is_stored = np.zeros(len(unique), bool)
    stored = stored_readings(connection, unique)
    if len(stored):
        b_idx, s_idx = _match(unique, stored)
        ref_value[b_idx], ref_batch[b_idx], is_stored[b_idx] = stored.value[s_idx], stored.batch[s_idx], True
    # judged rows: every repeat, and the first occurrence of a stored key
    judged = np.concatenate([later, np.flatnonzero(keep)[is_stored]])
    keys = key_of[judged]
    same = ordered.value[judged] == ref_value[keys]
    duplicates = int(same.sum())
    conflicts = Conflicts(position[judged[~same]].astype(np.int64), ref_value[keys[~same]],
                          ref_batch[keys[~same]])
    fresh = unique.take(~is_stored)
    inserted = write_readings(connection, fresh, batch_id, known_new=len(stored) == 0).inserted if len(fresh) else 0
    return CheckedWrite(inserted, duplicates, conflicts)
