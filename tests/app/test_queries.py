"""The dashboard's SQL on both engines: time buckets, latest-per-asset, alert order, reject counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dashboard_seed import SAMPLE, seed_sample

from plantpulse.app.queries import asset, fleet, ingest, jobs, models, weld
from plantpulse.app.queries.sql import database as cached_database


@pytest.fixture
def seeded(database, tmp_path: Path):
    seeded = seed_sample(database, tmp_path / "images")
    yield database.url, seeded
    cached_database.cache_clear()


def test_fleet_table_latest_prediction_and_health(seeded) -> None:
    url, seed = seeded
    frame = fleet.fleet_table(url, ("none",)).set_index("asset")
    assert len(frame) == 51  # 20 turbofans, 20 machines, 10 bearings, 1 weld cell
    engine = frame.loc["turbofan-fd001-test-020"]
    assert engine["rul_mean"] == pytest.approx(16.0) and engine["state"] == "critical"
    assert engine["last_data"] == pd.Timestamp("2025-01-08T15:00:00Z")
    machine = frame.loc["azure-machine-001"]
    assert machine["rul_unit"] == "h" and machine["top_fault"].startswith("comp")
    assert frame.loc["weld-cell-01", "state"] == "no prediction"


def test_alerts_worst_first(seeded) -> None:
    url, _ = seeded
    alerts = fleet.alert_list(url)
    assert alerts["severity"].tolist() == ["critical", "warning"]


def test_work_orders_of_one_asset(seeded) -> None:
    url, seed = seeded
    from plantpulse.app.queries.sql import database
    from plantpulse.pipelines.alerts.workorders import open_orders_csv

    with database(url).session() as session:
        text, count = open_orders_csv(session, seed.assets["turbofan-fd001-test-020"], "turbofan-fd001-test-020")
    lines = text.strip().split("\n")
    assert count == 1 and lines[0].startswith("alert_id,created_at,asset,severity")
    assert ",turbofan-fd001-test-020,critical,rul_low," in lines[1] and "borescope" in lines[1]


@pytest.mark.parametrize(("name", "channel", "csv", "buckets", "width_us"), [
    ("azure-machine-002", "volt", "azure_telemetry.csv", 30, None),
    # 2,048 samples at 12 kHz (0.17 s): millisecond buckets, not one 1 s bucket
    ("cwru-bearing-105-inner-race-0007", "drive_end_accel", "cwru_bearings_de_0hp.csv", 300, 1000),
], ids=["hourly telemetry", "vibration"])
def test_sensor_buckets_equal_pandas(seeded, name: str, channel: str, csv: str, buckets: int,
                                     width_us: int | None) -> None:
    url, seed = seeded
    asset_id = seed.assets[name]
    chans = asset.channels(url, asset_id).set_index("name")["channel_id"]
    first, last = asset.time_span(url, asset_id)
    found = asset.sensor_buckets(url, asset_id, (int(chans[channel]),), first, last, buckets)
    raw = pd.read_csv(SAMPLE / "sensors" / csv)
    raw = raw[raw["asset"] == name]
    us = pd.to_datetime(raw["timestamp"], utc=True, format="ISO8601").astype("int64") // 1000
    width = found.attrs["width_us"]
    assert width_us is None or width == width_us
    expected = raw.groupby((us // width) * width)[channel].agg(["mean", "min", "max", "count"])
    assert len(expected) > 1
    buckets_found = found
    got = buckets_found.set_index("bucket")
    assert got.index.tolist() == expected.index.tolist()
    np.testing.assert_allclose(got["mean"], expected["mean"])
    assert (got["n"].to_numpy() == expected["count"].to_numpy()).all()


def test_weld_counts_and_hourly_rejects(seeded) -> None:
    url, _ = seeded
    assert weld.counts(url) == {"pass": 5, "reject": 10, "total": 15, "reviewed": 0}
    from zoneinfo import ZoneInfo

    from plantpulse.app.queries.sql import database
    from plantpulse.pipelines.alerts.pchart import chart_points

    with database(url).session() as session:
        cells = chart_points(session, (6, 14, 22), ZoneInfo("Europe/Berlin"), 3.0, 20, 10)
    shifts = cells["weld-cell-01"]
    assert sum(s["n"] for s in shifts) == 15 and sum(s["rejects"] for s in shifts) == 10
    assert shifts[0]["ucl"] is None and shifts[-1]["ucl"] is not None
    assert len(weld.inspections(url, verdict="reject", limit=100)) == 10


def test_ingest_models_jobs_queries(seeded) -> None:
    url, seed = seeded
    rows = ingest.quarantined(url, seed.batch_id)
    assert rows["reason"].str.contains("not numeric").any()
    assert ingest.quarantine_csv(rows).startswith("\ufeffbatch_id,source,line".encode())
    assert ingest.opcua_last_values(url).empty and ingest.opcua_intake(url)["flushes"] == 0
    versions = models.versions(url)
    assert set(versions["name"]) == {"rul-baseline", "pdm-faults", "weld-yolo"}
    assert jobs.last_per_job(url).set_index("job").at["score", "count"] == 2


def test_opcua_last_values_only_from_opcua_batches(seeded) -> None:
    from datetime import UTC, datetime

    from plantpulse.data.store.bulk import ReadingBlock, write_readings
    from plantpulse.data.store.db import Database
    from plantpulse.data.store.schema import IngestBatch

    url, seed = seeded
    machine = seed.assets["azure-machine-001"]
    ts = int(datetime(2015, 4, 2, tzinfo=UTC).timestamp() * 1e6)
    with Database(url).session() as session:
        batch = IngestBatch(connector="opcua", source="opc.tcp://plc:4840/", content_sha256="1" * 64,
                            status="committed", rows_total=2, rows_loaded=2, finished_at=datetime.now(UTC))
        session.add(batch)
        session.flush()
        write_readings(session.connection(), ReadingBlock.build(
            [machine, machine], [ts, ts], [1, 2], [171.5, 44.0], [0, 0x40000000]), batch.id)
    values = ingest.opcua_last_values(url)
    assert set(values["asset"]) == {"azure-machine-001"} and len(values) == 2
    assert sorted(values["value"]) == [44.0, 171.5] and 0x40000000 in values["status"].tolist()
    intake = ingest.opcua_intake(url)
    assert intake["flushes"] == 1 and intake["loaded"] == 2 and intake["endpoint"] == "opc.tcp://plc:4840/"
