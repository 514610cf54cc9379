"""The bulk reading writer: fast paths agree with the safe path, duplicates never land twice."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from plantpulse.data.store.bulk import PG_EPOCH_US, ReadingBlock, encode_copy_binary, write_readings
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import SensorReading

T0 = 1_700_000_000_000_000


def _block(n_assets: int = 3, n_times: int = 50, n_channels: int = 4, offset: int = 0) -> ReadingBlock:
    a = np.repeat(np.arange(1, n_assets + 1), n_times * n_channels)
    t = np.tile(np.repeat(T0 + (np.arange(n_times) + offset) * 1_000_000, n_channels), n_assets)
    c = np.tile(np.arange(1, n_channels + 1), n_assets * n_times)
    return ReadingBlock.build(a, t, c, np.sin(np.arange(len(a)) + offset))


def _count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(SensorReading))


def test_block_rejects_ragged_columns() -> None:
    with pytest.raises(ValueError, match="same length"):
        ReadingBlock.build(np.arange(3), np.arange(2), np.arange(3), np.arange(3.0))


def test_sorted_unique_drops_repeated_keys() -> None:
    block = _block(1, 3, 2)
    doubled = ReadingBlock.build(*(np.concatenate([x, x[:2]]) for x in
                                   (block.asset_id, block.ts_us, block.channel_id, block.value)))
    unique, repeated = doubled.sorted_unique()
    assert repeated == 2 and len(unique) == len(block)


def test_copy_binary_layout() -> None:
    block = ReadingBlock.build(np.array([7]), np.array([PG_EPOCH_US + 5]), np.array([3]), np.array([1.5]))
    payload = encode_copy_binary(block, 9)
    assert payload.startswith(b"PGCOPY\n\xff\r\n\x00") and payload.endswith(b"\xff\xff")
    body = payload[19:-2]
    assert body[:2] == (6).to_bytes(2, "big")
    assert int.from_bytes(body[6:10], "big") == 7
    assert int.from_bytes(body[14:22], "big") == 5
    assert len(encode_copy_binary(block, None)) == len(payload) - 4  # NULL batch: no value bytes


def test_insert_then_resend_is_a_no_op(database: Database) -> None:
    block = _block()
    with database.engine.begin() as conn:
        first = write_readings(conn, block, batch_id=1)
    with database.engine.begin() as conn:
        again = write_readings(conn, block, batch_id=2)
    assert (first.inserted, first.duplicates) == (len(block), 0)
    assert (again.inserted, again.duplicates) == (0, len(block))
    assert _count(database) == len(block)


def test_partial_overlap_keeps_new_rows_only(database: Database) -> None:
    with database.engine.begin() as conn:
        write_readings(conn, _block(offset=0), batch_id=None)
    with database.engine.begin() as conn:
        result = write_readings(conn, _block(offset=25), batch_id=None)
    per_time = 3 * 4
    assert result.inserted == 25 * per_time and result.duplicates == 25 * per_time
    assert _count(database) == 75 * per_time


def test_rollback_leaves_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"), database.engine.begin() as conn:
        write_readings(conn, _block(), batch_id=None)
        raise RuntimeError("boom")
    assert _count(database) == 0


def test_values_round_trip_exactly(database: Database) -> None:
    block = _block(1, 5, 2)
    with database.engine.begin() as conn:
        write_readings(conn, block, batch_id=4)
    with database.session() as s:
        rows = s.execute(select(SensorReading.value, SensorReading.batch_id)
                         .order_by(SensorReading.ts, SensorReading.channel_id)).all()
    assert [r.value for r in rows] == block.sorted_unique()[0].value.tolist()
    assert {r.batch_id for r in rows} == {4}
