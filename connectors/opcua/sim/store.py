"""The simulator's durable record: every value it publishes, and where its replay stands.

Each step is committed here *before* the values are written to the address space, so after a
crash the server's history holds everything any client may have seen, and a restarted simulator
continues with the next step. The same table serves OPC-UA HistoryRead and is the simulator's own
sequence that the zero-loss tests compare the database against.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.server.history import HistoryStorageInterface

from plantpulse.data.core.times import from_micros, to_micros, utcnow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (id INTEGER PRIMARY KEY, node TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS history (
    node INTEGER NOT NULL, ts_us INTEGER NOT NULL, kind TEXT NOT NULL, value, status INTEGER NOT NULL,
    fault TEXT, PRIMARY KEY (node, ts_us)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# (node id, ts_us, kind: d = double, s = string, a = double array, n = null; value, status code, fault)
HistoryRow = tuple[int, int, str, Any, int, str | None]
_EPOCH_MIN = datetime(1601, 1, 2, tzinfo=UTC)  # OPC-UA's 'no time' is 1601-01-01


def pack_array(values: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(values)}d", *values)


def variant(kind: str, value: Any) -> ua.Variant:
    if kind == "n":
        return ua.Variant(None, ua.VariantType.Null)
    if kind == "s":
        return ua.Variant(str(value), ua.VariantType.String)
    if kind == "a":
        data = bytes(value)
        return ua.Variant(list(struct.unpack(f"<{len(data) // 8}d", data)), ua.VariantType.Double, is_array=True)
    return ua.Variant(float(value) if value is not None else float("nan"), ua.VariantType.Double)


class SimStore(HistoryStorageInterface):
    """SQLite file of published values (also the server's history backend)."""

    def __init__(self, path: Path, max_history_data_response_size: int = 10_000) -> None:
        super().__init__(max_history_data_response_size)
        self.path = path
        self.conn: sqlite3.Connection | None = None
        self.node_ids: dict[str, int] = {}
        self.by_nodeid: dict[ua.NodeId, int] = {}

    def open(self) -> SimStore:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)
        return self

    def register(self, key: str, node_id: ua.NodeId) -> int:
        assert self.conn is not None
        self.conn.execute("INSERT OR IGNORE INTO nodes (node) VALUES (?)", (key,))
        nid = self.conn.execute("SELECT id FROM nodes WHERE node = ?", (key,)).fetchone()[0]
        self.node_ids[key], self.by_nodeid[node_id] = nid, nid
        return nid

    def get_state(self, key: str, default: str | None = None) -> str | None:
        assert self.conn is not None
        row = self.conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def record(self, rows: Sequence[HistoryRow], state: dict[str, str]) -> None:
        """Commit one step's values and the replay position together."""
        assert self.conn is not None
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany("INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?, ?)", rows)
            self.conn.executemany("INSERT OR REPLACE INTO state VALUES (?, ?)", state.items())
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def last_values(self) -> dict[int, tuple[int, str, Any, int]]:
        """node id -> (ts_us, kind, value, status) of its newest recorded value."""
        assert self.conn is not None
        rows = self.conn.execute(
            "SELECT h.node, h.ts_us, h.kind, h.value, h.status FROM history h JOIN "
            "(SELECT node, max(ts_us) AS ts FROM history GROUP BY node) m ON m.node = h.node AND m.ts = h.ts_us")
        return {node: (ts, kind, value, status) for node, ts, kind, value, status in rows}

    def prune(self, keep: timedelta) -> int:
        assert self.conn is not None
        return self.conn.execute("DELETE FROM history WHERE ts_us < ?", (to_micros(utcnow() - keep),)).rowcount

    # ---------------------------------------------------------------- HistoryStorageInterface
    async def init(self) -> None:
        if self.conn is None:
            self.open()

    async def new_historized_node(self, node_id: ua.NodeId, period: timedelta | None, count: int = 0) -> None:
        return None  # every simulated node is historized by record()

    async def save_node_value(self, node_id: ua.NodeId, datavalue: ua.DataValue) -> None:
        return None  # values are recorded before they are published, not after

    async def read_node_history(self, node_id: ua.NodeId, start: datetime | None, end: datetime | None,
                                nb_values: int) -> tuple[list[ua.DataValue], datetime | None]:
        nid = self.by_nodeid.get(ua.NodeId(node_id.Identifier, node_id.NamespaceIndex, node_id.NodeIdType))
        if nid is None or self.conn is None:
            return [], None
        lo = to_micros(start) if start is not None and start > _EPOCH_MIN else 0
        hi = to_micros(end) if end is not None and end > _EPOCH_MIN else to_micros(utcnow() + timedelta(days=3650))
        order = "ASC" if lo <= hi else "DESC"
        lo, hi = min(lo, hi), max(lo, hi)
        limit = min(nb_values or self.max_history_data_response_size, self.max_history_data_response_size)
        rows = self.conn.execute(
            f"SELECT ts_us, kind, value, status FROM history WHERE node = ? AND ts_us BETWEEN ? AND ? "
            f"ORDER BY ts_us {order} LIMIT ?", (nid, lo, hi, limit + 1)).fetchall()
        values = [ua.DataValue(variant(kind, value), StatusCode=ua.StatusCode(status),
                               SourceTimestamp=from_micros(ts), ServerTimestamp=from_micros(ts))
                  for ts, kind, value, status in rows[:limit]]
        more = len(rows) > limit and not nb_values
        return values, (from_micros(rows[limit][0]) if more else None)

    async def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
