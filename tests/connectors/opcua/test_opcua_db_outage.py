"""The database goes away for a while: the connector buffers on disk, then flushes everything."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from opcua_support import (
    ConnectorThread,
    SimProcess,
    TcpProxy,
    check_against_simulator,
    cross_trust,
    make_sim,
    settings_for,
    wait_for,
)
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from plantpulse.connectors.opcua.connector import OpcUaConnector
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import SensorReading
from plantpulse.pipelines.ingest.opcua import database_sinks

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.postgres]


def count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(SensorReading))


def test_database_outage_is_buffered_then_flushed(sims: list[SimProcess], pg_database_url: str,
                                                  tmp_path: Path) -> None:
    direct = make_url(pg_database_url)
    proxy = TcpProxy((direct.host or "127.0.0.1", direct.port or 5432)).start()
    proxied = Database(direct.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    observer = Database(pg_database_url)
    sim_home, pki = tmp_path / "sim", tmp_path / "client-pki"
    cross_trust(sim_home, pki)
    sim = make_sim(sims, sim_home, ["--engines", "4", "--period", "0.1", "--faults", "0.02"]).start()
    settings = settings_for(sim.endpoint, pki)
    connector = OpcUaConnector(settings, database_sinks(proxied, settings.endpoint), tmp_path / "client")
    runner = ConnectorThread(connector).start()
    try:
        wait_for(lambda: connector.flush_stats.loaded > 300, 30, "the first rows in the database")
        proxy.cut()
        time.sleep(0.5)  # a flush already on the wire may still land
        during, received = count(observer), connector.stats.new
        time.sleep(4.0)
        assert count(observer) == during, "nothing reaches the database while it is away"
        assert connector.stats.new > received + 1000, "the connector kept receiving into its buffer"
        assert connector.flush_stats.failures > 0
        proxy.start()
        wait_for(lambda: sim.steps() >= 126, 60, "the end of the replay")
        # the flusher retries the database with a growing back-off, so the first retry after the
        # outage can come tens of seconds later on a busy machine: wait for it, not for a speed
        wait_for(lambda: connector.flush_stats.loaded + connector.flush_stats.quarantined
                 >= len(sim.history()), 120, "the buffer flushed")
    finally:
        runner.stop()
        proxy.cut()
        sim.stop()
        proxied.dispose()
    assert runner.error is None, repr(runner.error)
    good, faulty = check_against_simulator(sim, observer)
    observer.dispose()
    assert good > 2500 and faulty > 20
