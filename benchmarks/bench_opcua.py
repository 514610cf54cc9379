"""OPC-UA ingest: sustained values per second with zero loss (simulator and connector on one host).

    nice python benchmarks/bench_opcua.py --rate 8000 --seconds 60            # bundled sample, 500 nodes
    nice python benchmarks/bench_opcua.py --rate 12000 --seconds 60 --full   # C-MAPSS FD001 test, 2,500 nodes

The simulator (a subprocess, Basic256Sha256 SignAndEncrypt) replays C-MAPSS engines at the given
rate for the given time; the connector (this process) subscribes, buffers on disk and writes to
SQLite (or ``--db``). Afterwards every published value is looked up in the database: the run
counts only if nothing was lost or duplicated. Lag = values published but not yet stored,
in seconds of publishing, sampled every second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from plantpulse.connectors.opcua.connector import OpcUaConnector
from plantpulse.data.core.config.opcua import OpcUaSettings
from plantpulse.data.store.db import Database
from plantpulse.pipelines.ingest.opcua import database_sinks

SAMPLE_NODES, FULL_NODES = 20 * 25, 100 * 25


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def published(sim_db: Path) -> int:
    if not sim_db.exists():
        return 0
    with sqlite3.connect(f"file:{sim_db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT count(*) FROM history").fetchone()[0]


def start_sim(home: Path, port: int, period: float, steps: int, full: bool, client_pki: Path) -> subprocess.Popen:
    args = ["--port", str(port), "--period", f"{period:.6f}", "--loop", "--max-steps", str(steps),
            "--trusted-dir", str(client_pki / "own")]
    args += ["--engines", "100"] if full else ["--sample"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTPULSE_") or k == "PLANTPULSE_DATASETS"}
    if full and "PLANTPULSE_DATASETS" not in env:
        raise SystemExit("--full replays the full C-MAPSS test set: set PLANTPULSE_DATASETS to the datasets folder.")
    log = (home / "sim.log").open("w")
    cmd = [sys.executable, "-m", "plantpulse.pipelines.cli.main", "--home", str(home), "opcua-sim", *args]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        if proc.poll() is not None:
            raise SystemExit(f"simulator failed:\n{(home / 'sim.log').read_text()[-2000:]}")
        time.sleep(0.1)
    return proc


async def ingest(connector: OpcUaConnector, sim_db: Path, total: int, rate: float, limit_s: float) -> list[float]:
    """Run the connector until everything published is stored; returns lag samples (s)."""
    stop = asyncio.Event()
    task = asyncio.create_task(connector.run(stop))
    lags, deadline = [], time.monotonic() + limit_s
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        if task.done():
            await task
        stored = connector.flush_stats.loaded + connector.flush_stats.quarantined
        now_published = published(sim_db)
        if now_published:
            lags.append(max(0, now_published - stored) / rate)
        if now_published >= total and stored >= now_published:
            break
    stop.set()
    await task
    return lags


def verify(sim_db: Path, db: Database) -> tuple[int, int]:
    """(lost, duplicated) comparing the simulator's record with the database."""
    with sqlite3.connect(sim_db) as conn:
        sent = {(n, ts) for n, ts in conn.execute("SELECT n.node, h.ts_us FROM history h JOIN nodes n ON n.id = h.node")}
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT a.name || '/' || c.name, r.ts FROM sensor_readings r JOIN assets a ON a.id = r.asset_id "
            "JOIN channels c ON c.id = r.channel_id").fetchall()
    stored = [(n, int(ts)) for n, ts in rows]
    return len(sent - set(stored)), len(stored) - len(set(stored))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=8000.0, help="values per second published")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--full", action="store_true", help="100 C-MAPSS engines (needs PLANTPULSE_DATASETS)")
    parser.add_argument("--publishing-ms", type=float, default=500.0)
    args = parser.parse_args()
    nodes = FULL_NODES if args.full else SAMPLE_NODES
    period = nodes / args.rate
    steps = max(1, math.ceil(args.seconds / period))
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        db = Database(f"sqlite:///{tmp / 'plant.db'}")
        db.upgrade()
        port, client_home = free_port(), tmp / "client"
        settings = OpcUaSettings(endpoint=f"opc.tcp://127.0.0.1:{port}/plantpulse/", pki_dir=client_home / "pki",
                                 trusted_dir=tmp / "sim" / "opcua-sim" / "pki" / "own",
                                 publishing_interval_ms=args.publishing_ms, backfill_first_s=3600,
                                 reconnect_max_s=1.0)
        connector = OpcUaConnector(settings, database_sinks(db, settings.endpoint), client_home)
        asyncio.run(_make_identity(connector))
        (tmp / "sim").mkdir()
        sim = start_sim(tmp / "sim", port, period, steps, args.full, client_home / "pki")
        sim_db = tmp / "sim" / "opcua-sim" / "simulator.db"
        cpu0, t0 = (cpu_seconds(sim.pid), time.process_time()), time.monotonic()
        try:
            lags = asyncio.run(ingest(connector, sim_db, steps * nodes, args.rate, args.seconds * 3 + 60))
            wall = time.monotonic() - t0
            sim_cpu, own_cpu = cpu_seconds(sim.pid) - cpu0[0], time.process_time() - cpu0[1]
        finally:
            sim.send_signal(signal.SIGTERM)
            sim.wait(20)
        lost, duplicated = verify(sim_db, db)
        with sqlite3.connect(sim_db) as conn:
            first, last = conn.execute("SELECT min(ts_us), max(ts_us) FROM history").fetchone()
        total = published(sim_db)
        span = (last - first) / 1e6
        report = {
            "nodes": nodes, "target_rate": args.rate, "published": total, "publish_span_s": round(span, 1),
            "published_per_s": round(total / span), "stored": connector.flush_stats.loaded,
            "lost": lost, "duplicated": duplicated, "sessions": connector.sessions,
            "lag_median_s": round(statistics.median(lags), 2), "lag_max_s": round(max(lags), 2),
            "wall_s": round(wall, 1), "cpu_simulator_s": round(sim_cpu, 1), "cpu_connector_s": round(own_cpu, 1),
        }
        print(json.dumps(report, indent=1))
        db.dispose()


async def _make_identity(connector: OpcUaConnector) -> None:
    await connector.pki.ensure_identity(connector.settings.application_uri, server=False)


if __name__ == "__main__":
    main()
