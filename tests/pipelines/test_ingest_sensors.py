"""Sensor ingest end to end on both engines: stored values, quarantine, batches, no duplicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from plantpulse.connectors.sensors.options import ChannelLimit, SensorOptions
from plantpulse.data.core.errors import PlantPulseError, UploadRejectedError
from plantpulse.data.core.records import AssetSpec
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import ensure_assets, readings_between
from plantpulse.data.store.schema import Asset, Channel, IngestBatch, QuarantinedRow, SensorReading
from plantpulse.pipelines.ingest import sensors as ingest_sensors
from plantpulse.pipelines.ingest.entry import IngestFailedError, describe, ingest_sensor_file

GOOD = ("asset,timestamp,temp [degC],speed\n"
        "m1,2024-01-01T00:00:00Z,20.5,1500\n"
        "m1,2024-01-01T01:00:00Z,n/a,1510\n"
        "m2,2024-01-01T00:00:00Z,19,\n"
        "m2,not-a-time,1,2\n"
        "ghost,2024-01-01T00:00:00Z,1,2\n"
        "m2,2024-01-01T01:00:00Z,999,1490\n")


def _file(tmp_path: Path, text: str, name: str = "line1.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _assets(db: Database, *names: str) -> None:
    with db.session() as s:
        ensure_assets(s, [AssetSpec(n, "press") for n in names])


def _count(db: Database, table) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(table))


def test_file_is_stored_with_its_quarantine_and_summary(database: Database, tmp_path: Path) -> None:
    _assets(database, "m1", "m2")
    options = SensorOptions(limits={"temp": ChannelLimit(-40, 200)})
    result = ingest_sensor_file(database, _file(tmp_path, GOOD), options=options)
    assert (result.status, result.rows_total, result.loaded, result.quarantined) == ("committed", 6, 5, 4)
    with database.session() as s:
        m1 = s.scalar(select(Asset.id).where(Asset.name == "m1"))
        window = readings_between(s, m1)
        quarantined = s.scalars(select(QuarantinedRow).order_by(QuarantinedRow.line)).all()
        batch = s.get(IngestBatch, result.batch_id)
        units = dict(s.execute(select(Channel.name, Channel.unit)).all())
    assert window.channels == ("temp", "speed")
    assert np.array_equal(window.values, [[20.5, 1500.0], [np.nan, 1510.0]], equal_nan=True)
    assert units == {"temp": "degC", "speed": ""}
    assert [(q.line, q.column) for q in quarantined] == [(3, "temp [degC]"), (5, "timestamp"), (6, "asset"), (7, "temp [degC]")]
    assert quarantined[2].raw == "ghost,2024-01-01T00:00:00Z,1,2" and "not registered" in quarantined[2].reason
    assert "outside [-40, 200]" in quarantined[3].reason
    assert (batch.status, batch.rows_total, batch.rows_loaded, batch.rows_quarantined) == ("committed", 6, 5, 4)
    assert batch.summary["quarantine_reasons"] == {"bad_timestamp": 1, "not_numeric": 1, "out_of_range": 1, "unknown_asset": 1}
    assert batch.summary["assets_unknown"] == ["ghost"] and batch.summary["empty_cells"] == 1
    assert "quarantined 4" in describe(result)


def test_same_file_again_is_a_no_op_naming_the_batch(database: Database, tmp_path: Path) -> None:
    path = _file(tmp_path, GOOD)
    first = ingest_sensor_file(database, path, create_assets=True)
    again = ingest_sensor_file(database, path, create_assets=True)
    assert again.status == "skipped" and f"batch {first.batch_id}" in again.message
    assert _count(database, IngestBatch) == 1 and _count(database, SensorReading) == first.loaded


def test_resent_rows_are_duplicates_and_changed_values_conflicts(database: Database, tmp_path: Path) -> None:
    ingest_sensor_file(database, _file(tmp_path, GOOD), create_assets=True)
    resent = ("asset,timestamp,temp [degC],speed\n"
              "m1,2024-01-01T00:00:00Z,20.5,1500\n"     # same values: duplicates
              "m1,2024-01-01T01:00:00Z,21,1511\n"       # temp is new, speed changed: conflict
              "m1,2024-01-01T02:00:00Z,22,1520\n")      # new
    result = ingest_sensor_file(database, _file(tmp_path, resent, "line1-again.csv"), create_assets=True)
    assert (result.loaded, result.duplicates, result.quarantined) == (3, 2, 1)
    with database.session() as s:
        [conflict] = s.scalars(select(QuarantinedRow).where(QuarantinedRow.batch_id == result.batch_id)).all()
        m1 = s.scalar(select(Asset.id).where(Asset.name == "m1"))
        speed = readings_between(s, m1, channels=["speed"]).values[:, 0].tolist()
    assert (conflict.line, conflict.column) == (3, "speed")
    assert "already holds 1510.0 (batch 1)" in conflict.reason and "1511.0 was not stored" in conflict.reason
    assert speed == [1500.0, 1510.0, 1520.0]


def test_unknown_assets_can_be_created(database: Database, tmp_path: Path) -> None:
    result = ingest_sensor_file(database, _file(tmp_path, GOOD), create_assets=True, asset_type="press")
    assert result.summary["assets_created"] == ["m1", "m2", "ghost"]
    with database.session() as s:
        assert set(s.scalars(select(Asset.asset_type))) == {"press"}


def test_failure_mid_file_leaves_nothing_but_a_failed_batch(database: Database, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rows = "".join(f"m1,2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z,{i},1\n" for i in range(3000))
    path = _file(tmp_path, "asset,timestamp,temp,speed\n" + rows)
    real_write = ingest_sensors.SensorWriter.write
    calls = []

    def failing(self, chunk):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real_write(self, chunk)

    monkeypatch.setattr(ingest_sensors.SensorWriter, "write", failing)
    options = SensorOptions(chunk_rows=1000)
    with pytest.raises(IngestFailedError, match=r"nothing was stored \(failed batch \d+\): disk full"):
        ingest_sensor_file(database, path, options=options, create_assets=True)
    assert (_count(database, SensorReading), _count(database, QuarantinedRow), _count(database, Asset)) == (0, 0, 0)
    with database.session() as s:
        [failed] = s.scalars(select(IngestBatch)).all()
    assert failed.status == "failed" and "disk full" in failed.error
    monkeypatch.setattr(ingest_sensors.SensorWriter, "write", real_write)
    result = ingest_sensor_file(database, path, options=options, create_assets=True)
    assert result.status == "committed" and _count(database, SensorReading) == 6000


def test_header_problem_is_a_failed_batch(database: Database, tmp_path: Path) -> None:
    with pytest.raises(IngestFailedError, match="no timestamp column found"):
        ingest_sensor_file(database, _file(tmp_path, "asset,value\nm1,1\n"))
    with database.session() as s:
        assert s.scalars(select(IngestBatch.status)).all() == ["failed"]


def test_unit_conflict_with_stored_channel_fails_clearly(database: Database, tmp_path: Path) -> None:
    ingest_sensor_file(database, _file(tmp_path, GOOD), create_assets=True)
    other = "asset,timestamp,temp [degF]\nm1,2024-01-02T00:00:00Z,70\n"
    with pytest.raises(IngestFailedError, match="stored in 'degC' but the input says 'degF'"):
        ingest_sensor_file(database, _file(tmp_path, other, "f.csv"), create_assets=True)


def test_oversized_upload_is_refused(database: Database, tmp_path: Path) -> None:
    with pytest.raises(UploadRejectedError, match="upload limit"):
        ingest_sensor_file(database, _file(tmp_path, GOOD * 100), max_upload_mb=0.001)


def test_naive_times_record_the_zone_in_the_summary(database: Database, tmp_path: Path) -> None:
    path = _file(tmp_path, "asset,timestamp,temp\nm1,2024-01-01 01:00:00,1\n")
    result = ingest_sensor_file(database, path, options=SensorOptions(timezone="Europe/Berlin"), create_assets=True)
    assert result.summary["timezone_for_naive_times"] == "Europe/Berlin"
    assert result.summary["time_span"] == ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"]
    assert result.summary["naive_times"] == 1 and "read as Europe/Berlin" in describe(result)


def test_parquet_and_long_layout(database: Database, tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"asset": ["m1", "m1"], "timestamp": pd.to_datetime(["2024-01-01T00:00Z"] * 2),
                          "channel": ["temp", "speed"], "value": [1.0, 2.0], "unit": ["degC", "rpm"]})
    frame.to_parquet(tmp_path / "long.parquet")
    result = ingest_sensor_file(database, tmp_path / "long.parquet", connector="parquet", create_assets=True)
    assert (result.loaded, result.summary["layout"]) == (2, "long")


def test_wrong_connector_kind_is_refused(database: Database, tmp_path: Path) -> None:
    with pytest.raises(PlantPulseError, match="reads logs, not sensors"):
        ingest_sensor_file(database, _file(tmp_path, GOOD), connector="logs")
