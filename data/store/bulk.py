"""Fast, duplicate-safe bulk writes of sensor readings.

PostgreSQL: the block is encoded with numpy straight into COPY's binary format (no per-row Python
objects). When the block cannot collide with stored rows (no stored reading of its assets inside
its time span) it is copied straight into ``sensor_readings``; otherwise it goes through a
temporary staging table and ``INSERT ... ON CONFLICT DO NOTHING`` so re-sent rows are skipped.
SQLite: one prepared multi-row ``INSERT OR IGNORE`` (a few hundred rows per statement, which
halves the per-row cost of the sqlite3 module) run over the block inside the caller's transaction.

Both paths write inside the caller's transaction: the caller commits the whole batch or nothing.
"""

from __future__ import annotations

import sqlite3
import struct
from dataclasses import dataclass

import numpy as np
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Connection

from plantpulse.data.store.db import driver_connection

PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z in µs since the Unix epoch
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_COLUMNS = "asset_id, ts, channel_id, value, status, batch_id"
_PG_ROW = np.dtype([
    ("n", ">i2"),
    ("l_asset", ">i4"), ("asset", ">i4"),
    ("l_ts", ">i4"), ("ts", ">i8"),
    ("l_channel", ">i4"), ("channel", ">i2"),
    ("l_value", ">i4"), ("value", ">f8"),
    ("l_status", ">i4"), ("status", ">i4"),
    ("l_batch", ">i4"), ("batch", ">i4"),
])
_COPY_CHUNK = 1 << 22
_SQLITE_ROWS_PER_STATEMENT = 500


@dataclass(frozen=True, slots=True)
class ReadingBlock:
    """Columnar readings ready to store, all (N,).

    asset_id int32, ts_us int64 (µs since the Unix epoch, UTC), channel_id int16,
    value float64 (finite), status int32 (OPC-UA status code; 0 = Good).
    """

    asset_id: np.ndarray
    ts_us: np.ndarray
    channel_id: np.ndarray
    value: np.ndarray
    status: np.ndarray

    @classmethod
    def build(cls, asset_id: np.ndarray, ts_us: np.ndarray, channel_id: np.ndarray,
              value: np.ndarray, status: np.ndarray | None = None) -> ReadingBlock:
        n = len(asset_id)
        if not (len(ts_us) == len(channel_id) == len(value) == n):
            msg = "asset_id, ts_us, channel_id and value must have the same length."
            raise ValueError(msg)
        return cls(
            asset_id=np.asarray(asset_id, dtype=np.int32),
            ts_us=np.asarray(ts_us, dtype=np.int64),
            channel_id=np.asarray(channel_id, dtype=np.int16),
            value=np.asarray(value, dtype=np.float64),
            status=np.zeros(n, np.int32) if status is None else np.asarray(status, dtype=np.int32),
        )

    def __len__(self) -> int:
        return int(self.asset_id.shape[0])

    def take(self, index: np.ndarray | slice) -> ReadingBlock:
        return ReadingBlock(self.asset_id[index], self.ts_us[index], self.channel_id[index],
                            self.value[index], self.status[index])

    def sort_order(self) -> np.ndarray | None:
        """Stable permutation into key order (asset, ts, channel); None when already in order.

        Wide files arrive sorted, so an O(N) check usually saves the O(N log N) sort.
        """
        a, t, c = self.asset_id, self.ts_us, self.channel_id
        if len(self) < 2:
            return None
        same_a, same_t = a[1:] == a[:-1], t[1:] == t[:-1]
        in_order = (a[1:] > a[:-1]) | (same_a & ((t[1:] > t[:-1]) | (same_t & (c[1:] >= c[:-1]))))
        return None if bool(in_order.all()) else np.lexsort((c, t, a))

    def sorted_unique(self) -> tuple[ReadingBlock, int]:
        """Rows in key order (asset, ts, channel) with repeated keys dropped; and how many were."""
        order = self.sort_order()
        block = self if order is None else self.take(order)
        if len(block) == 0:
            return block, 0
        same = (
            (block.asset_id[1:] == block.asset_id[:-1])
            & (block.ts_us[1:] == block.ts_us[:-1])
            & (block.channel_id[1:] == block.channel_id[:-1])
        )
        keep = np.concatenate(([True], ~same))
        return block.take(keep), int(same.sum())


@dataclass(frozen=True, slots=True)
class WriteResult:
    inserted: int
    duplicates: int


def write_readings(connection: Connection, block: ReadingBlock, batch_id: int | None, *,
                   known_new: bool = False) -> WriteResult:
    """Insert ``block``; rows whose key is already stored are skipped and counted as duplicates.

    ``known_new``: the caller has just checked, in this transaction, that no stored reading lies in
    the block's per-asset time spans, so PostgreSQL copies straight in without checking again.
    """
    block, repeated = block.sorted_unique()
    if len(block) == 0:
        return WriteResult(0, repeated)
    if connection.dialect.name == "postgresql":
        inserted = _write_postgres(connection, block, batch_id, known_new)
    else:
        inserted = _write_sqlite(connection, block, batch_id)
    return WriteResult(inserted, repeated + len(block) - inserted)


def _write_sqlite(connection: Connection, block: ReadingBlock, batch_id: int | None) -> int:
    raw = driver_connection(connection)
    before = raw.total_changes
    batch = "NULL" if batch_id is None else str(int(batch_id))
    columns = [block.asset_id.tolist(), block.ts_us.tolist(), block.channel_id.tolist(),
               block.value.tolist()]
    row = f"(?, ?, ?, ?, 0, {batch})"
    if block.status.any():
        columns.append(block.status.tolist())
        row = f"(?, ?, ?, ?, ?, {batch})"
    width = len(columns)
    flat: list[object] = [None] * (width * len(block))
    for j, values in enumerate(columns):  # interleave column lists into one row-major list
        flat[j::width] = values
    limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width
    per = max(1, min(_SQLITE_ROWS_PER_STATEMENT, limit))
    full = len(block) - len(block) % per
    insert = f"INSERT OR IGNORE INTO sensor_readings ({_COLUMNS}) VALUES "
    if full:
        step = per * width
        raw.executemany(insert + ", ".join([row] * per),
                        (flat[i : i + step] for i in range(0, full * width, step)))
    if full < len(block):
        raw.execute(insert + ", ".join([row] * (len(block) - full)), flat[full * width :])
    return raw.total_changes - before


def _encode_rows(block: ReadingBlock, batch_id: int | None) -> np.ndarray:
    """The block's rows in binary COPY layout (no header/trailer), as a flat array."""
    template = np.zeros(1, dtype=_PG_ROW)
    for name, value in (("n", 6), ("l_asset", 4), ("l_ts", 8), ("l_channel", 2), ("l_value", 8),
                        ("l_status", 4), ("l_batch", 4 if batch_id is not None else -1),
                        ("batch", batch_id or 0)):
        template[name] = value
    rows = np.empty(len(block), dtype=_PG_ROW)
    rows[...] = template[0]  # constant fields in one pass; then one strided write per column
    rows["asset"] = block.asset_id
    rows["ts"] = block.ts_us - PG_EPOCH_US
    rows["channel"] = block.channel_id
    rows["value"] = block.value
    rows["status"] = block.status
    if batch_id is None:  # NULL: length -1 and no value bytes
        return np.frombuffer(_drop_null_payload(rows), dtype=np.uint8)
    return rows.view(np.uint8)


def encode_copy_binary(block: ReadingBlock, batch_id: int | None) -> bytes:
    """The block in PostgreSQL's binary COPY format for the columns in ``_COLUMNS``."""
    return _COPY_HEADER + _encode_rows(block, batch_id).tobytes() + _COPY_TRAILER


def _drop_null_payload(rows: np.ndarray) -> bytes:
    names, fields = rows.dtype.names, rows.dtype.fields
    assert names is not None and fields is not None, "rows have the structured _PG_ROW dtype"
    kept = [name for name in names if name != "batch"]
    packed = np.empty(rows.shape, dtype=np.dtype([(name, fields[name][0]) for name in kept]))
    for name in kept:
        packed[name] = rows[name]
    return packed.tobytes()


def _copy(cursor, table: str, block: ReadingBlock, batch_id: int | None) -> None:
    """Encode the block slice by slice while a writer thread streams the previous slice."""
    rows_per_slice = max(1, _COPY_CHUNK // _PG_ROW.itemsize)
    writer = QueuedLibpqWriter(cursor)
    with cursor.copy(f"COPY {table} ({_COLUMNS}) FROM STDIN (FORMAT BINARY)", writer=writer) as copy:
        copy.write(_COPY_HEADER)
        for start in range(0, len(block), rows_per_slice):
            part = slice(start, start + rows_per_slice)
            payload = memoryview(_encode_rows(block.take(part), batch_id))  # type: ignore[arg-type]  # numpy stubs: ndarray.__buffer__ only on Python >= 3.12
            copy.write(payload)
        copy.write(_COPY_TRAILER)


def _may_collide(cursor, block: ReadingBlock) -> bool:
    """True when some stored reading of the block's assets lies inside the block's time span."""
    assets, starts = np.unique(block.asset_id, return_index=True)
    ends = np.append(starts[1:], len(block)) - 1
    lo = block.ts_us[starts] - PG_EPOCH_US
    hi = block.ts_us[ends] - PG_EPOCH_US  # rows are sorted by (asset, ts)
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM unnest(%s::int[], %s::bigint[], %s::bigint[]) AS b(a, lo, hi) "
        "WHERE EXISTS (SELECT 1 FROM sensor_readings r WHERE r.asset_id = b.a AND "
        "r.ts BETWEEN timestamptz '2000-01-01 00:00:00+00' + b.lo * interval '1 microsecond' "
        "AND timestamptz '2000-01-01 00:00:00+00' + b.hi * interval '1 microsecond'))",
        (assets.tolist(), lo.tolist(), hi.tolist()),
    )
    return bool(cursor.fetchone()[0])


def _write_postgres(connection: Connection, block: ReadingBlock, batch_id: int | None,
                    known_new: bool = False) -> int:
    raw = driver_connection(connection)
    with raw.cursor() as cursor:
        if known_new or not _may_collide(cursor, block):
            _copy(cursor, "sensor_readings", block, batch_id)
            return len(block)
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS pp_stage_readings "
            "(LIKE sensor_readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        _copy(cursor, "pp_stage_readings", block, batch_id)
        cursor.execute(
            f"INSERT INTO sensor_readings ({_COLUMNS}) SELECT {_COLUMNS} FROM pp_stage_readings "
            "ON CONFLICT DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute("TRUNCATE pp_stage_readings")
        return inserted
