"""The reading options of `plantpulse ingest` and `plantpulse db batches delete`, through the
real entry point: a user with files and no programmer."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import scipy.io
from sqlalchemy import select

from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import Asset, Channel, MaintenanceEvent, SensorReading


def _db(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'home' / 'plantpulse.db'}")


def _readings(tmp_path: Path) -> list[tuple[str, str, float]]:
    with _db(tmp_path).session() as s:
        rows = s.execute(select(Asset.name, SensorReading.ts, SensorReading.value)
                         .join(Asset, Asset.id == SensorReading.asset_id).order_by(SensorReading.ts)).all()
    return [(name, ts.isoformat(), value) for name, ts, value in rows]


def test_new_options_are_in_the_help(run) -> None:
    _, out, _ = run("ingest", "sensors", "--help")
    for flag in ("--columns", "--epoch TIME", "--epoch-unit", "--mat-var", "--rate-hz", "--replace", ".csv.gz"):
        assert flag in out, flag
    _, out, _ = run("ingest", "logs", "--help")
    for flag in ("--columns", "--allow-no-asset", "--allow-no-time", "--replace"):
        assert flag in out, flag
    code, out, _ = run("db", "batches", "delete", "--help")
    assert code == 0 and "BATCH_ID" in out


def test_headerless_gzip_with_seconds_since_a_start_time(run, tmp_path: Path) -> None:
    path = tmp_path / "rig.csv.gz"
    path.write_bytes(gzip.compress(b"0,7,1.5\n0.5,7,1.6\n"))
    code, out, err = run("ingest", "sensors", str(path), "--columns", "t,rig,temp", "--time-column", "t",
                         "--asset-column", "rig", "--asset-template", "rig-{:03d}", "--epoch", "2024-05-01T00:00:00Z",
                         "--create-assets")
    assert code == 0, err
    assert _readings(tmp_path) == [("rig-007", "2024-05-01T00:00:00+00:00", 1.5),
                                   ("rig-007", "2024-05-01T00:00:00.500000+00:00", 1.6)]


def test_epoch_unit_with_epoch_and_the_older_spelling(run, tmp_path: Path) -> None:
    path = tmp_path / "ms.csv"
    path.write_text("asset,timestamp,temp\nm1,1500,1\n", encoding="utf-8")
    code, _, err = run("ingest", "sensors", str(path), "--epoch", "2024-05-01T00:00:00Z", "--epoch-unit", "ms",
                       "--create-assets")
    assert code == 0, err
    unix = tmp_path / "unix.csv"
    unix.write_text("asset,timestamp,temp\nm1,1714521600,2\n", encoding="utf-8")
    code, _, err = run("ingest", "sensors", str(unix), "--epoch", "s", "--create-assets")
    assert code == 0, err
    assert _readings(tmp_path) == [("m1", "2024-05-01T00:00:00+00:00", 2.0), ("m1", "2024-05-01T00:00:01.500000+00:00", 1.0)]
    code, out, err = run("ingest", "sensors", str(unix), "--epoch", "s", "--epoch-unit", "ms")
    assert code != 0 and "contradicts --epoch-unit ms" in out + err


def test_asset_template_applies_to_the_asset_pattern(run, tmp_path: Path) -> None:
    path = tmp_path / "pump_7.csv"
    path.write_text("timestamp,temp\n2024-05-01T00:00:00Z,1\n", encoding="utf-8")
    code, _, err = run("ingest", "sensors", str(path), "--asset-pattern", r"_(\d+)\.csv",
                       "--asset-template", "pump-{:02d}", "--create-assets")
    assert code == 0, err
    assert _readings(tmp_path)[0][0] == "pump-07"


def test_mat_vectors_with_a_channel_mapping(run, tmp_path: Path) -> None:
    path = tmp_path / "rig_097.mat"
    scipy.io.savemat(path, {"X097_DE_time": np.array([[0.1], [0.2], [0.3]]), "X097RPM": np.array([[1796.0]])})
    code, out, err = run("ingest", "sensors", str(path), "--mat-var", "*_DE_time=drive_end_accel", "--rate-hz", "2",
                         "--epoch", "2024-05-01T00:00:00Z", "--asset-pattern", r"_(\d+)\.mat",
                         "--asset-template", "bearing-{}", "--create-assets")
    assert code == 0, err
    assert "stored 3 values of 1 channels" in out
    assert [r[1] for r in _readings(tmp_path)] == ["2024-05-01T00:00:00+00:00", "2024-05-01T00:00:00.500000+00:00",
                                                    "2024-05-01T00:00:01+00:00"]
    with _db(tmp_path).session() as s:
        assert s.scalars(select(Channel.name)).all() == ["drive_end_accel"]


def test_logs_without_an_asset_column_need_the_flag(run, tmp_path: Path) -> None:
    path = tmp_path / "wo.csv"
    path.write_text("Date,Description\n2024-01-01,Replaced filter\n2024-01-02,Replaced filter\n", encoding="utf-8")
    code, out, err = run("ingest", "logs", str(path))
    assert code != 0 and "--allow-no-asset" in err
    code, out, err = run("ingest", "logs", str(path), "--allow-no-asset")
    assert code == 0 and "stored 2 events" in out, err


def test_db_batches_delete_and_ingest_replace(run, tmp_path: Path) -> None:
    path = tmp_path / "line.csv"
    path.write_text("asset,timestamp,temp\nm1,2024-01-01T00:00:00Z,1\nm1,2024-01-01T01:00:00Z,900\n", encoding="utf-8")
    code, out, _ = run("ingest", "sensors", str(path), "--create-assets", "--limit", "temp=0:100")
    assert code == 0 and "quarantined 1" in out
    code, out, _ = run("ingest", "sensors", str(path))
    assert "already ingested as batch 1" in out and "--replace" in out
    code, out, err = run("ingest", "sensors", str(path), "--replace")
    assert code == 0 and "replaces batch 1 (line.csv)" in out and "stored 2 values" in out, err
    code, out, err = run("db", "batches", "delete", "2")
    assert code == 0 and out.startswith("Removed batch 2 (line.csv, committed): 2 readings"), err
    code, out, err = run("db", "batches", "delete", "2")
    assert code != 0 and "no ingest batch 2" in err
    code, out, _ = run("db", "batches")
    assert code == 0 and "line.csv" not in out
    with _db(tmp_path).session() as s:
        assert s.scalar(select(SensorReading.value)) is None and s.scalar(select(MaintenanceEvent.id)) is None
