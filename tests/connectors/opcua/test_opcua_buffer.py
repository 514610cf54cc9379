"""Durable buffer, exactly-once flush to the database, watermarks, and the node map file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asyncua import ua
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from plantpulse.connectors.opcua.buffer import SampleBuffer
from plantpulse.connectors.opcua.connector import OpcUaConnector
from plantpulse.connectors.opcua.intake import Intake
from plantpulse.connectors.opcua.nodes import NodeBinding, NodeMap, load_node_map
from plantpulse.connectors.opcua.quality import ClockLimits
from plantpulse.data.core.config.opcua import OpcUaSettings
from plantpulse.data.core.errors import ConfigError
from plantpulse.data.core.records import ChannelSpec
from plantpulse.data.core.times import to_micros
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import ensure_channels
from plantpulse.data.store.schema import IngestBatch, QuarantinedRow, SensorReading
from plantpulse.pipelines.ingest.opcua import DatabaseSink, database_sinks

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = ClockLimits(300_000_000, 60_000_000)
BINDINGS = (NodeBinding("ns=2;s=a.t", "pump-1", "temp", "pump", "degC"),
            NodeBinding("ns=2;s=a.p", "pump-1", "pressure", "pump", "bar", low=0, high=10))


def dv(value: object, seconds: float, status: int = 0) -> ua.DataValue:
    ts = T0 + timedelta(seconds=seconds)
    return ua.DataValue(ua.Variant(value), StatusCode=ua.StatusCode(status), SourceTimestamp=ts, ServerTimestamp=ts)


@pytest.fixture
def buffer(tmp_path: Path):
    buf = SampleBuffer(tmp_path / "buffer.db").open()
    yield buf
    buf.close()


def counts(db: Database) -> tuple[int, int]:
    with db.session() as s:
        return (s.scalar(select(func.count()).select_from(SensorReading)),
                s.scalar(select(func.count()).select_from(QuarantinedRow)))


def test_repeated_samples_are_buffered_once(buffer: SampleBuffer) -> None:
    intake = Intake(BINDINGS, buffer, LIMITS)
    assert intake.add([(0, dv(1.0, 0)), (1, dv(2.0, 0))], live=True) == 2
    assert intake.add([(0, dv(1.0, 0)), (0, dv(1.5, 1))], live=False) == 1
    assert intake.stats.repeated == 1 and buffer.pending_count() == 3


def test_flush_writes_readings_and_quarantine_in_one_batch(buffer: SampleBuffer, sqlite_db: Database) -> None:
    intake = Intake(BINDINGS, buffer, LIMITS)
    intake.add([(0, dv(20.5, 0)), (1, dv(3.0, 0)), (1, dv(99.0, 1)), (0, dv("n/a", 1)),
                (1, dv(None, 2, status=ua.StatusCodes.BadSensorFailure))], live=True)
    sink = DatabaseSink(sqlite_db, "opc.tcp://plant:4840", buffer.buffer_id)
    result = sink.flush(buffer.pending(100), buffer.targets())
    assert (result.loaded, result.quarantined, result.through_seq) == (2, 3, 5)
    assert counts(sqlite_db) == (2, 3)
    with sqlite_db.session() as s:
        reasons = sorted(s.scalars(select(QuarantinedRow.reason)))
        batch = s.scalar(select(IngestBatch))
    assert [r.split(":")[0].split(" (")[0] for r in reasons] == [
        "bad status BadSensorFailure", "out of range [0, 10]", "wrong type"]
    assert (batch.connector, batch.status, batch.rows_total) == ("opcua", "committed", 5)


def test_a_flush_repeated_after_a_crash_writes_nothing_twice(buffer: SampleBuffer, sqlite_db: Database) -> None:
    """The process died after the database commit but before the buffer learnt of it."""
    intake = Intake(BINDINGS, buffer, LIMITS)
    intake.add([(0, dv(1.0, s)) for s in range(10)], live=True)
    sink = DatabaseSink(sqlite_db, "opc.tcp://plant:4840", buffer.buffer_id)
    first = sink.flush(buffer.pending(100), buffer.targets())  # committed, never acknowledged
    intake.add([(0, dv(1.0, s)) for s in range(10, 15)], live=True)
    again = DatabaseSink(sqlite_db, "opc.tcp://plant:4840", buffer.buffer_id).flush(buffer.pending(100),
                                                                                    buffer.targets())
    assert again.replayed and again.through_seq == first.through_seq == 10
    buffer.mark_flushed(again.through_seq)
    rest = sink.flush(buffer.pending(100), buffer.targets())
    assert rest.loaded == 5 and counts(sqlite_db) == (15, 0)


def test_a_channel_the_database_refuses_is_quarantined_not_lost(buffer: SampleBuffer, sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        ensure_channels(s, [ChannelSpec("temp", "K")])  # stored in kelvin; the node says degC
    Intake(BINDINGS, buffer, LIMITS).add([(0, dv(20.0, 0)), (1, dv(2.0, 0))], live=True)
    result = DatabaseSink(sqlite_db, "opc", buffer.buffer_id).flush(buffer.pending(10), buffer.targets())
    assert (result.loaded, result.quarantined) == (1, 1)
    with sqlite_db.session() as s:
        reason = s.scalar(select(QuarantinedRow.reason))
    assert "stored in 'K'" in reason


def test_watermark_waits_for_the_backfill_and_ignores_clock_jumps(buffer: SampleBuffer) -> None:
    intake = Intake(BINDINGS, buffer, LIMITS)
    intake.begin_session()
    intake.add([(0, dv(1.0, 10))], live=True)
    assert intake.watermarks[0] is None, "live values before the backfill must not move the mark"
    intake.mark_complete([0])
    assert intake.watermarks[0] == to_micros(T0 + timedelta(seconds=10))
    future = ua.DataValue(ua.Variant(1.0), SourceTimestamp=datetime.now(UTC) + timedelta(days=1))
    intake.add([(0, future), (0, dv(1.0, 11))], live=True)
    assert intake.watermarks[0] == to_micros(T0 + timedelta(seconds=11))
    assert buffer.watermarks() == {"ns=2;s=a.t": to_micros(T0 + timedelta(seconds=11))}
    reopened = Intake(BINDINGS, buffer, LIMITS)
    assert reopened.watermarks[0] == intake.watermarks[0]


def test_placeholder_notifications_are_not_samples(buffer: SampleBuffer) -> None:
    intake = Intake(BINDINGS, buffer, LIMITS)
    waiting = ua.DataValue(ua.Variant(None), StatusCode=ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData))
    assert intake.add([(0, waiting)], live=True) == 0
    assert intake.stats.placeholders == 1 and buffer.pending_count() == 0


def test_pruning_keeps_unflushed_rows(buffer: SampleBuffer) -> None:
    Intake(BINDINGS, buffer, LIMITS).add([(0, dv(1.0, s)) for s in range(4)], live=True)
    buffer.mark_flushed(2)
    assert buffer.prune(older_than_us=2**62) == 2
    assert buffer.pending_count() == 2


def test_database_outage_keeps_everything_in_the_buffer(tmp_path: Path, sqlite_db: Database,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = SampleBuffer(tmp_path / "b.db").open()
    Intake(BINDINGS, buffer, LIMITS).add([(0, dv(1.0, s)) for s in range(50)], live=True)
    settings = OpcUaSettings()
    connector = OpcUaConnector(settings, database_sinks(sqlite_db, settings.endpoint), tmp_path)
    sink = DatabaseSink(sqlite_db, "opc", buffer.buffer_id)
    real = sink.flush

    def unavailable(*_: object) -> None:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(sink, "flush", unavailable)
    with pytest.raises(OperationalError):
        asyncio.run(connector.flush_pending(buffer, sink))
    assert buffer.pending_count() == 50 and counts(sqlite_db) == (0, 0)
    monkeypatch.setattr(sink, "flush", real)
    assert asyncio.run(connector.flush_pending(buffer, sink)) == 50
    assert buffer.pending_count() == 0 and counts(sqlite_db) == (50, 0)
    buffer.close()


def test_node_map_file(tmp_path: Path) -> None:
    path = tmp_path / "nodes.toml"
    path.write_text('[[node]]\nnode = "ns=2;s=P7.Pressure"\nasset = "press-07"\nchannel = "pressure"\n'
                    'unit = "bar"\nlow = 0\nhigh = 400\n')
    [b] = load_node_map(path, "press").bindings
    assert (b.asset, b.asset_type, b.channel, b.unit, b.low, b.high) == ("press-07", "press", "pressure", "bar", 0, 400)


@pytest.mark.parametrize(("text", "match"), [
    ('[[node]]\nnode = "ns=2;i=1"\nasset = "a"\n', r"missing channel"),
    ('[[node]]\nnode = "ns=2;i=1"\nasset = "a"\nchannel = "c"\nlimit = 3\n', r"unknown key\(s\) \['limit'\]"),
    ('[[node]]\nnode = "ns=2;i=1"\nasset = "a"\nchannel = "c"\nlow = "zero"\n', r"expected a number"),
    ('[[node]]\nnode = "ns=2;i=1"\nasset = "a"\nchannel = "c"\nlow = 5\nhigh = 1\n', r"must not exceed high"),
    ('title = "x"\n', r"no \[\[node\]\] tables"),
], ids=["missing-channel", "unknown-key", "non-numeric", "inverted-range", "empty"])
def test_node_map_errors_say_what_and_where(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "nodes.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_node_map(path)


def test_two_nodes_feeding_one_channel_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"both feed asset 'a' channel 'c'"):
        NodeMap((NodeBinding("ns=2;i=1", "a", "c"), NodeBinding("ns=2;i=2", "a", "c")))
