"""The connector against a real simulator that is killed and restarted mid-stream.

Zero lost and zero duplicated samples, judged against the simulator's own record of what it
published: every good value is stored once with its value, every injected fault is quarantined
once with a reason, and nothing else appears.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from opcua_support import (
    ConnectorThread,
    SimProcess,
    check_against_simulator,
    cross_trust,
    make_sim,
    settings_for,
    wait_for,
)
from sqlalchemy import select

from plantpulse.connectors.opcua.connector import OpcUaConnector
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import IngestBatch
from plantpulse.pipelines.ingest.opcua import database_sinks

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_kill_and_restart_the_server_loses_and_duplicates_nothing(
        sims: list[SimProcess], sqlite_db: Database, tmp_path: Path) -> None:
    sim_home, pki = tmp_path / "sim", tmp_path / "client-pki"
    cross_trust(sim_home, pki)
    sim = make_sim(sims, sim_home, ["--engines", "4", "--period", "0.1", "--faults", "0.02", "--seed", "7"])
    settings = settings_for(sim.endpoint, pki)
    connector = OpcUaConnector(settings, database_sinks(sqlite_db, settings.endpoint), tmp_path / "client")
    runner = ConnectorThread(connector).start()  # before the server: it must wait and retry
    try:
        time.sleep(1.0)
        sim.start()
        for restart in range(3):
            wait_for(lambda restart=restart: connector.sessions > restart and connector.stats.live > 0, 30, "a live session")
            time.sleep(0.6 + 0.3 * restart)  # kill at a different point of the stream each time
            sim.kill()
            time.sleep(1.0)  # the connector keeps retrying while the server is down
            sim.start()
        # engine 3 of the sample has 126 cycles: the replay ends, then the server keeps serving history
        wait_for(lambda: sim.steps() >= 126, 60, "the end of the replay")
        wait_for(lambda: connector.flush_stats.loaded + connector.flush_stats.quarantined
                 >= len(sim.history()), 30, "everything stored")
        time.sleep(1.0)
    finally:
        runner.stop()
        sim.stop()
    assert runner.error is None, repr(runner.error)
    good, faulty = check_against_simulator(sim, sqlite_db)
    assert good > 2500 and faulty > 20
    assert connector.sessions >= 4
    assert connector.stats.history > 0, "gaps were backfilled from history"
    with sqlite_db.session() as s:
        batches = s.scalars(select(IngestBatch)).all()
    assert sum(b.rows_loaded for b in batches) == good
