"""CWRU vibration over OPC-UA: arrays of samples become one reading per sample, at 12 kHz spacing."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from opcua_support import ConnectorThread, SimProcess, make_sim, settings_for, wait_for
from sqlalchemy import select

from plantpulse.connectors.opcua.connector import OpcUaConnector
from plantpulse.data.core.resources import sample_dir
from plantpulse.data.core.times import to_micros
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import Asset, Channel, SensorReading
from plantpulse.pipelines.ingest.opcua import database_sinks

pytestmark = [pytest.mark.integration]

BLOCK, STEPS = 64, 4


def test_vibration_blocks_are_stored_sample_by_sample(sims: list[SimProcess], sqlite_db: Database,
                                                       tmp_path: Path) -> None:
    sim = make_sim(sims, tmp_path / "sim", ["--engines", "1", "--cwru-block", str(BLOCK), "--period", "0.2",
                                            "--max-steps", str(STEPS), "--allow-insecure"]).start()
    settings = settings_for(sim.endpoint, tmp_path / "pki", security_policy="None", allow_insecure=True)
    connector = OpcUaConnector(settings, database_sinks(sqlite_db, settings.endpoint), tmp_path / "client")
    runner = ConnectorThread(connector).start()
    try:
        wait_for(lambda: connector.flush_stats.loaded >= 10 * STEPS * BLOCK + STEPS * 25, 60, "all blocks stored")
        time.sleep(0.5)
    finally:
        runner.stop()
    with sqlite_db.session() as s:
        asset = s.scalar(select(Asset).where(Asset.name == "cwru-bearing-105-inner-race-0007"))
        rows = s.execute(select(SensorReading.ts, SensorReading.value).where(SensorReading.asset_id == asset.id)
                         .order_by(SensorReading.ts)).all()
        channels = s.scalars(select(Channel.name).join(SensorReading, SensorReading.channel_id == Channel.id)
                             .where(SensorReading.asset_id == asset.id).distinct()).all()
    assert asset.asset_type == "bearing"  # what the shipped bearing model scores
    assert channels == ["drive_end_accel"]
    with np.load(sample_dir() / "vibration" / "cwru_de_0hp.npz") as arrays:
        expected = arrays["X105_DE"][: STEPS * BLOCK]
    np.testing.assert_array_equal([v for _, v in rows], expected)
    stamps = np.array([to_micros(t) for t, _ in rows]).reshape(STEPS, BLOCK)
    steps_us = np.diff(stamps, axis=1)
    assert set(np.unique(steps_us)) <= {83, 84}, "12 kHz: 83.3 µs between samples, rounded to µs"
    assert connector.stats.reasons == {}, "no value was refused"
