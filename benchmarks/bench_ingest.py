"""Ingest throughput: a 1,000,000-row wide sensor CSV into SQLite and PostgreSQL, end to end.

The file is real Azure PdM telemetry (volt, rotate, pressure, vibration; hourly) tiled onto more
machines: machine m gets the readings of source machine ((m - 1) mod K) verbatim, 2,160 hours
each, written as ``machine-NNNN,2015-01-01T06:00:00Z,176.217853015625,...`` like a plant export.
Source: ``$PLANTPULSE_DATASETS/azure_pdm/PdM_telemetry_subset.csv`` (20 machines), else the
bundled sample ``data/sample/sensors/azure_telemetry.csv`` (3 machines).

Each run ingests the file into a fresh database with :func:`ingest_sensor_file` (what
``plantpulse ingest sensors FILE --create-assets`` calls): hashing, parsing, checks, asset and
channel ids, duplicate/conflict checks, bulk write and commit are all inside the timing.

    python benchmarks/bench_ingest.py --rows 1000000 --runs 3 \\
        --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "sensors" / "azure_telemetry.csv"
CHANNELS = ("volt", "rotate", "pressure", "vibration")


def _source() -> tuple[pd.DataFrame, str]:
    datasets = os.environ.get("PLANTPULSE_DATASETS")
    full = Path(datasets) / "azure_pdm" / "PdM_telemetry_subset.csv" if datasets else None
    if full is not None and full.is_file():
        frame = pd.read_csv(full, dtype=str)
        frame = frame.rename(columns={"machineID": "machine"})
        frame["timestamp"] = pd.to_datetime(frame["datetime"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        return frame[["machine", "timestamp", *CHANNELS]], str(full)
    frame = pd.read_csv(SAMPLE, dtype=str).rename(columns={"asset": "machine"})
    return frame[["machine", "timestamp", *CHANNELS]], str(SAMPLE.relative_to(ROOT))


def generate(path: Path, rows: int) -> str:
    """Write ``rows`` data rows tiled from the real telemetry; returns the source used."""
    frame, used = _source()
    blocks = [group for _, group in frame.groupby("machine", sort=True)]
    bodies = [("," + g["timestamp"] + "," + g[list(CHANNELS)].agg(",".join, axis=1) + "\n").tolist() for g in blocks]
    written, machine = 0, 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("asset,timestamp," + ",".join(CHANNELS) + "\n")
        while written < rows:
            body = bodies[machine % len(bodies)][: rows - written]
            prefix = f"machine-{machine + 1:04d}"
            handle.write("".join(prefix + line for line in body))
            written += len(body)
            machine += 1
    return used


def _pg_admin(url: str):
    import psycopg
    from sqlalchemy.engine import make_url

    return psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
                           autocommit=True)


def _pg_settings(url: str) -> dict[str, str]:
    names = ("server_version", "shared_buffers", "max_wal_size", "synchronous_commit", "wal_compression")
    with _pg_admin(url) as conn:
        return {n: conn.execute(f"SHOW {n}").fetchone()[0] for n in names}


def _fresh_database(engine: str, workdir: Path, pg_url: str | None) -> tuple[str, object]:
    from sqlalchemy.engine import make_url

    if engine == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        return f"sqlite:///{path}", lambda: [p.unlink(missing_ok=True) for p in workdir.glob(path.name + "*")]
    name = f"pp_bench_{uuid.uuid4().hex[:10]}"
    with _pg_admin(pg_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with _pg_admin(pg_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return make_url(pg_url).set(database=name).render_as_string(hide_password=False), drop


def _wal_lsn(pg_url: str | None) -> int | None:
    """The server's WAL position in bytes (PostgreSQL only), to measure WAL written per run."""
    if pg_url is None:
        return None
    with _pg_admin(pg_url) as conn:
        return int(conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0])


def run_once(engine: str, csv_path: Path, workdir: Path, pg_url: str | None) -> dict[str, float]:
    from plantpulse.data.store.db import Database
    from plantpulse.pipelines.ingest.entry import ingest_sensor_file

    url, cleanup = _fresh_database(engine, workdir, pg_url)
    db = Database(url)
    try:
        db.upgrade()
        wal = _wal_lsn(pg_url if engine == "postgresql" else None)
        start = time.perf_counter()
        result = ingest_sensor_file(db, csv_path, create_assets=True, max_upload_mb=4096)
        seconds = time.perf_counter() - start
        assert result.status == "committed" and result.quarantined == 0, result.summary
        wal_bytes = _wal_lsn(pg_url) - wal if wal is not None else 0
        return {"seconds": seconds, "rows": result.rows_total, "values": result.loaded, "wal_bytes": wal_bytes}
    finally:
        db.dispose()
        cleanup()


def write_only(engine: str, rows: int, workdir: Path, pg_url: str | None) -> float:
    """Seconds to store the same number of readings with the bulk writer alone (no file, no checks):
    the database's own ceiling for this load, to compare the end-to-end figure with."""
    from plantpulse.data.store.bulk import ReadingBlock, write_readings
    from plantpulse.data.store.db import Database

    hours = 2160
    machines = -(-rows // hours)
    asset = np.repeat(np.arange(1, machines + 1, dtype=np.int32), hours * len(CHANNELS))[: rows * len(CHANNELS)]
    step = np.repeat(np.arange(hours, dtype=np.int64), len(CHANNELS))
    ts = np.tile(1_420_092_000_000_000 + step * 3_600_000_000, machines)[: len(asset)]
    channel = np.tile(np.arange(1, len(CHANNELS) + 1, dtype=np.int16), machines * hours)[: len(asset)]
    value = np.random.default_rng(0).normal(100, 20, len(asset))
    url, cleanup = _fresh_database(engine, workdir, pg_url)
    db = Database(url)
    try:
        db.upgrade()
        per = 1_000_000
        start = time.perf_counter()
        with db.engine.begin() as conn:
            for i in range(0, len(asset), per):
                part = slice(i, i + per)
                write_readings(conn, ReadingBlock.build(asset[part], ts[part], channel[part], value[part]), 1)
        return time.perf_counter() - start
    finally:
        db.dispose()
        cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("PLANTPULSE_TEST_POSTGRES_URL"),
                        help="URL of a PostgreSQL server (a scratch database is created per run)")
    parser.add_argument("--workdir", type=Path, default=None, help="folder for the CSV and SQLite files")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--write-only", action="store_true",
                        help="also time the bulk writer alone on the same number of readings")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="pp-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    csv_path = workdir / f"telemetry_{args.rows}.csv"
    started = time.perf_counter()
    source = generate(csv_path, args.rows)
    print(f"generated {csv_path} ({csv_path.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows) from {source} "
          f"in {time.perf_counter() - started:.1f} s")
    engines = [e for e in args.engines.split(",") if e != "postgresql" or args.postgres]
    report: dict[str, object] = {"rows": args.rows, "source": source, "cpus": os.cpu_count(),
                                 "python": platform.python_version(), "sqlite_version": sqlite3.sqlite_version}
    if "postgresql" in engines:
        report["postgresql_settings"] = _pg_settings(args.postgres)
    for engine in engines:
        runs = [run_once(engine, csv_path, workdir, args.postgres) for _ in range(args.runs)]
        seconds = statistics.median(r["seconds"] for r in runs)
        values = runs[0]["values"]
        wal = statistics.median(r["wal_bytes"] for r in runs)
        report[engine] = {"seconds": [round(r["seconds"], 3) for r in runs], "wal_bytes_per_value": round(wal / values, 1),
                          "median_seconds": round(seconds, 3), "rows_per_s": round(args.rows / seconds),
                          "values_per_s": round(values / seconds), "values": values}
        print(f"{engine:>10}: median {seconds:.2f} s of {[round(r['seconds'], 2) for r in runs]} -> "
              f"{args.rows / seconds:,.0f} CSV rows/s, {values / seconds:,.0f} stored values/s"
              + (f", {wal / 1e6:,.0f} MB of WAL ({wal / values:.0f} bytes/value)" if wal else ""))
        if args.write_only:
            alone = statistics.median(write_only(engine, args.rows, workdir, args.postgres) for _ in range(args.runs))
            report[engine]["write_only_median_seconds"] = round(alone, 3)
            print(f"{'':>10}  bulk writer alone: median {alone:.2f} s -> {values / alone:,.0f} values/s "
                  f"({args.rows / alone:,.0f} rows/s equivalent)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
