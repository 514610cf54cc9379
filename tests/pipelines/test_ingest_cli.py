"""`plantpulse ingest ...` and `plantpulse db ...` through the real entry point."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import SensorReading

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"




def test_every_subcommand_has_help(run) -> None:
    for args in (("ingest",), ("ingest", "sensors"), ("ingest", "logs"), ("ingest", "images"),
                 ("ingest", "assets"), ("db",), ("db", "upgrade"), ("db", "current"), ("db", "batches"),
                 ("db", "quarantine")):
        code, out, _ = run(*args, "--help")
        assert code == 0 and "Usage:" in out


def test_sample_round_trip(run, tmp_path: Path) -> None:
    assert run("db", "upgrade")[0] == 0
    code, out, _ = run("ingest", "assets", str(SAMPLE / "assets.csv"))
    assert code == 0 and "stored 51 rows" in out
    code, out, _ = run("ingest", "sensors", str(SAMPLE / "sensors" / "azure_telemetry.csv"),
                       "--limit", "vibration=0:60")
    assert code == 0 and "stored" in out and "of 4 channels for 20 assets" in out
    code, out, _ = run("ingest", "logs", *(str(p) for p in sorted((SAMPLE / "logs").glob("PdM_*.csv"))))
    assert code == 0 and out.count("committed") == 3
    code, out, _ = run("ingest", "images", str(SAMPLE / "weld"), "--asset", "weld-cell-01")
    assert code == 0 and "stored 15 images" in out
    code, out, _ = run("ingest", "sensors", str(SAMPLE / "sensors" / "azure_telemetry.csv"))
    assert code == 0 and "already ingested as batch 2" in out
    code, out, _ = run("db", "batches")
    assert code == 0 and "azure_telemetry.csv" in out


def test_bad_rows_are_listed_and_exported(run, tmp_path: Path) -> None:
    data = tmp_path / "cell.csv"
    data.write_text("asset,timestamp,temp\nm1,2024-01-01T00:00:00Z,x\nm9,2024-01-01T00:00:00Z,1\n", encoding="utf-8")
    code, out, _ = run("ingest", "sensors", str(data), "--asset-type", "press")
    assert code == 0 and "quarantined 2: not_numeric 1, unknown_asset 1" in out
    code, out, _ = run("db", "quarantine", "--batch", "1")
    assert code == 0 and "cell.csv:2 [temp]: value 'x' is not a number" in out and "2 quarantined rows" in out
    export = tmp_path / "q.csv"
    assert run("db", "quarantine", "--csv", str(export))[0] == 0
    rows = list(csv.DictReader(export.open(encoding="utf-8")))
    assert [(r["line"], r["column"]) for r in rows] == [("2", "temp"), ("3", "asset")]
    assert rows[1]["raw"] == "m9,2024-01-01T00:00:00Z,1"


def test_failures_exit_non_zero_with_a_clear_message(run, tmp_path: Path) -> None:
    data = tmp_path / "nohead.csv"
    data.write_text("a,b\n1,2\n", encoding="utf-8")
    code, _, err = run("ingest", "sensors", str(data))
    assert code == 1 and "no timestamp column found" in err and "1 of 1 inputs failed" in err
    code, _, err = run("ingest", "sensors", str(data), "--limit", "temp=high")
    assert code == 2 and "must look like 'LOW:HIGH'" in err
    code, out, _ = run("db", "current")
    assert code == 0 and "up to date" in out


def test_cr_only_line_breaks_are_read(run: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    path = tmp_path / "cr.csv"
    path.write_bytes(b'asset,timestamp,temp\r"m-001",2024-01-01T00:00:00Z,1.5\rm-002,2024-01-01T00:00:00Z,2.5\r')
    code, out, err = run("ingest", "sensors", str(path), "--create-assets")
    assert code == 0, err
    assert "stored 2 values" in out
    db = Database(f"sqlite:///{tmp_path / 'home' / 'plantpulse.db'}")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(SensorReading)) == 2
    db.dispose()


def test_a_file_that_yields_nothing_exits_non_zero(run: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("asset,timestamp,temp\n", encoding="utf-8")
    code, _, err = run("ingest", "sensors", str(path), "--create-assets")
    assert code == 1
    assert "no data rows were found" in err and "1 of 1 inputs failed" in err
