"""The connector's durable local buffer: an append-only SQLite (WAL) file on local disk.

Every received sample is committed here before the server is acknowledged, and stays until the
database has it: if the database is away, samples pile up here; if the connector process dies,
the next one flushes what is left. ``UNIQUE(target, ts_us)`` de-duplicates on (node, source
timestamp), so values seen twice (a HistoryRead overlapping the subscription, a resent publish)
are stored once. Flushed rows are kept ``retention`` seconds so late duplicates are still caught.

Tables: ``targets`` (node -> asset/channel as mapped when the value arrived), ``samples``,
``watermarks`` (per node: newest accepted source timestamp, where backfill resumes) and ``meta``
(the buffer's id and ``flushed_seq``: every sample with ``seq <= flushed_seq`` is in the database).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from plantpulse.connectors.opcua.nodes import NodeBinding

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS targets (
    id INTEGER PRIMARY KEY, node TEXT NOT NULL, asset TEXT NOT NULL, asset_type TEXT NOT NULL,
    channel TEXT NOT NULL, unit TEXT NOT NULL, UNIQUE (node, asset, asset_type, channel, unit));
CREATE TABLE IF NOT EXISTS samples (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, target INTEGER NOT NULL, ts_us INTEGER NOT NULL,
    value REAL, status INTEGER NOT NULL, reason TEXT, raw TEXT NOT NULL, received_us INTEGER NOT NULL,
    origin TEXT NOT NULL, UNIQUE (target, ts_us));
CREATE TABLE IF NOT EXISTS watermarks (node TEXT PRIMARY KEY, ts_us INTEGER NOT NULL);
"""

# (target id, ts_us, value or None, status, reason or None, raw, received_us, origin)
SampleRow = tuple[int, int, float | None, int, str | None, str, int, str]


@dataclass(frozen=True, slots=True)
class Target:
    id: int
    node: str
    asset: str
    asset_type: str
    channel: str
    unit: str


@dataclass(frozen=True, slots=True)
class PendingBlock:
    """Unflushed samples in ``seq`` order, columnar, all (N,)."""

    first_seq: int
    last_seq: int
    target: list[int]
    ts_us: list[int]
    value: list[float | None]
    status: list[int]
    reason: list[str | None]
    raw: list[str]

    def __len__(self) -> int:
        return len(self.target)


class SampleBuffer:
    """See the module docstring. One instance per process; not shared between threads."""

    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._conn: sqlite3.Connection | None = None
        self._targets: dict[NodeBinding, int] = {}

    # ---------------------------------------------------------------- lifecycle
    def open(self) -> SampleBuffer:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.executescript(_SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('buffer_id', ?)", (uuid.uuid4().hex,))
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('flushed_seq', '0')")
        self._conn = conn
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            msg = f"Buffer {self.path} is not open; call open() first."
            raise RuntimeError(msg)
        return self._conn

    @property
    def buffer_id(self) -> str:
        return self.conn.execute("SELECT value FROM meta WHERE key = 'buffer_id'").fetchone()[0]

    @property
    def flushed_seq(self) -> int:
        return int(self.conn.execute("SELECT value FROM meta WHERE key = 'flushed_seq'").fetchone()[0])

    # ---------------------------------------------------------------- targets and watermarks
    def target_ids(self, bindings: Iterable[NodeBinding]) -> list[int]:
        """Ids of the bindings' targets, registering new ones."""
        ids = []
        for b in bindings:
            tid = self._targets.get(b)
            if tid is None:
                key = (b.node, b.asset, b.asset_type, b.channel, b.unit)
                self.conn.execute("INSERT OR IGNORE INTO targets (node, asset, asset_type, channel, unit) "
                                  "VALUES (?, ?, ?, ?, ?)", key)
                tid = self.conn.execute("SELECT id FROM targets WHERE node = ? AND asset = ? AND asset_type = ? "
                                        "AND channel = ? AND unit = ?", key).fetchone()[0]
                self._targets[b] = tid
            ids.append(tid)
        return ids

    def targets(self) -> dict[int, Target]:
        rows = self.conn.execute("SELECT id, node, asset, asset_type, channel, unit FROM targets")
        return {r[0]: Target(*r) for r in rows}

    def watermarks(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT node, ts_us FROM watermarks"))

    # ---------------------------------------------------------------- writes
    def append(self, rows: Sequence[SampleRow], watermarks: dict[str, int]) -> int:
        """Commit ``rows`` (repeats of a stored (target, ts) are ignored) and advance watermarks.

        Returns how many rows were new.
        """
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO samples (target, ts_us, value, status, reason, raw, received_us, origin) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            added = conn.total_changes - before
            if watermarks:
                conn.executemany(
                    "INSERT INTO watermarks VALUES (?, ?) ON CONFLICT (node) DO UPDATE SET "
                    "ts_us = max(ts_us, excluded.ts_us)", watermarks.items())
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return added

    def pending(self, limit: int) -> PendingBlock | None:
        """Up to ``limit`` unflushed samples, oldest first; None when all are flushed."""
        rows = self.conn.execute(
            "SELECT seq, target, ts_us, value, status, reason, raw FROM samples WHERE seq > ? ORDER BY seq LIMIT ?",
            (self.flushed_seq, limit)).fetchall()
        if not rows:
            return None
        seq, target, ts_us, value, status, reason, raw = (list(col) for col in zip(*rows, strict=True))
        return PendingBlock(seq[0], seq[-1], target, ts_us, value, status, reason, raw)

    def pending_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM samples WHERE seq > ?", (self.flushed_seq,)).fetchone()[0]

    def mark_flushed(self, through_seq: int) -> None:
        self.conn.execute("UPDATE meta SET value = ? WHERE key = 'flushed_seq' AND CAST(value AS INTEGER) < ?",
                          (str(through_seq), through_seq))

    def prune(self, older_than_us: int) -> int:
        """Delete flushed samples received before ``older_than_us``; returns how many."""
        cur = self.conn.execute("DELETE FROM samples WHERE seq <= ? AND received_us < ?",
                                (self.flushed_seq, older_than_us))
        return cur.rowcount
