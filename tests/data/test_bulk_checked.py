"""Checked bulk writes: duplicates are counted, conflicting values are reported, on both engines."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from plantpulse.data.store.bulk import ReadingBlock, write_readings
from plantpulse.data.store.bulk_checked import NO_BATCH, write_readings_checked
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import SensorReading

T0 = 1_700_000_000_000_000


def _block(assets, times, channels, values, status=None) -> ReadingBlock:
    return ReadingBlock.build(np.array(assets), T0 + np.array(times), np.array(channels), np.array(values, float),
                              None if status is None else np.array(status))


def _stored(db: Database) -> dict[tuple[int, int, int], tuple[float, int | None]]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(SensorReading.asset_id, SensorReading.ts, SensorReading.channel_id,
                                   SensorReading.value, SensorReading.batch_id)).all()
    from plantpulse.data.core.times import to_micros

    return {(a, to_micros(t) - T0, c): (v, b) for a, t, c, v, b in rows}


def test_new_rows_go_in_and_resends_are_duplicates(database: Database) -> None:
    block = _block([1, 1, 2], [0, 0, 5], [1, 2, 1], [1.0, 2.0, 3.0])
    with database.engine.begin() as conn:
        first = write_readings_checked(conn, block, 1)
    with database.engine.begin() as conn:
        again = write_readings_checked(conn, block, 2)
    assert (first.inserted, first.duplicates, len(first.conflicts)) == (3, 0, 0)
    assert (again.inserted, again.duplicates, len(again.conflicts)) == (0, 3, 0)
    assert {k: v[1] for k, v in _stored(database).items()} == {(1, 0, 1): 1, (1, 0, 2): 1, (2, 5, 1): 1}


def test_conflicts_name_the_row_and_the_stored_value(database: Database) -> None:
    with database.engine.begin() as conn:
        write_readings_checked(conn, _block([1, 1], [0, 1], [1, 1], [1.0, 2.0]), 7)
    unsorted = _block([1, 1, 1], [9, 1, 0], [1, 1, 1], [5.0, 2.5, 1.0])
    with database.engine.begin() as conn:
        result = write_readings_checked(conn, unsorted, 8)
    assert (result.inserted, result.duplicates) == (1, 1)
    assert (result.conflicts.index.tolist(), result.conflicts.stored_value.tolist(),
            result.conflicts.stored_batch.tolist()) == ([1], [2.0], [7])
    assert _stored(database)[(1, 1, 1)] == (2.0, 7)  # the stored value stays


def test_repeats_inside_one_block(database: Database) -> None:
    block = _block([3, 3, 3, 3], [0, 0, 0, 1], [1, 1, 1, 1], [4.0, 4.0, 6.0, 7.0])
    with database.engine.begin() as conn:
        result = write_readings_checked(conn, block, None)
    assert (result.inserted, result.duplicates) == (2, 1)
    assert (result.conflicts.index.tolist(), result.conflicts.stored_value.tolist(),
            result.conflicts.stored_batch.tolist()) == ([2], [4.0], [NO_BATCH])


def test_repeats_of_a_stored_key_are_judged_against_the_stored_value(database: Database) -> None:
    """A block that repeats a stored key with another value, then with the stored one: the first is a
    conflict, the second a duplicate (not a conflict with the rejected value before it)."""
    with database.engine.begin() as conn:
        write_readings_checked(conn, _block([1], [0], [1], [0.0]), 3)
    with database.engine.begin() as conn:
        result = write_readings_checked(conn, _block([1, 1, 1], [0, 0, 0], [1, 1, 1], [1.0, 0.0, 1.0]), 4)
    assert (result.inserted, result.duplicates) == (0, 1)
    assert (sorted(result.conflicts.index.tolist()), result.conflicts.stored_value.tolist(),
            result.conflicts.stored_batch.tolist()) == ([0, 2], [0.0, 0.0], [3, 3])
    assert _stored(database)[(1, 0, 1)] == (0.0, 3)


def test_rows_written_earlier_in_the_same_transaction_count_as_stored(database: Database) -> None:
    with database.engine.begin() as conn:
        write_readings_checked(conn, _block([1], [0], [1], [1.0]), 3)
        result = write_readings_checked(conn, _block([1, 1], [0, 0], [1, 2], [9.0, 1.0]), 3)
    assert (result.inserted, len(result.conflicts), int(result.conflicts.stored_batch[0])) == (1, 1, 3)


@pytest.mark.parametrize("n", [1, 499, 500, 1234], ids=["one", "below", "exact", "remainder"])
def test_sqlite_multirow_writer_stores_every_row(tmp_path, n: int) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.upgrade()
    status = np.arange(n) % 3
    block = _block(np.ones(n, int), np.arange(n), np.ones(n, int), np.arange(n) * 0.5, status)
    with db.engine.begin() as conn:
        assert write_readings(conn, block, None).inserted == n
    with db.engine.connect() as conn:
        rows = conn.execute(select(SensorReading.value, SensorReading.status, SensorReading.batch_id)
                            .order_by(SensorReading.ts)).all()
    assert [r.value for r in rows] == (np.arange(n) * 0.5).tolist()
    assert [r.status for r in rows] == status.tolist() and {r.batch_id for r in rows} == {None}


def test_sort_order_skips_sorted_blocks() -> None:
    assert _block([1, 1, 2], [0, 0, 0], [1, 2, 1], [0, 0, 0]).sort_order() is None
    order = _block([2, 1, 1], [0, 5, 0], [1, 1, 1], [0, 0, 0]).sort_order()
    assert order.tolist() == [2, 1, 0]


def test_large_block_count(database: Database) -> None:
    n = 20_000
    block = _block(np.repeat([1, 2], n // 2), np.tile(np.arange(n // 2), 2), np.ones(n, int), np.arange(n, dtype=float))
    with database.engine.begin() as conn:
        write_readings_checked(conn, block, 1)
    with database.engine.begin() as conn:
        result = write_readings_checked(conn, block.take(np.arange(0, n, 2)), 2)
    assert (result.inserted, result.duplicates) == (0, n // 2)
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(SensorReading)) == n
