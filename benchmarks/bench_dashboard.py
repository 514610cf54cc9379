"""First render of the plant overview with 100 assets and 10 million readings in PostgreSQL.

    python -m benchmarks.bench_dashboard [--pg postgresql://postgres@127.0.0.1:5432/postgres]
                                         [--runs 5] [--keep]

Builds a throwaway database ``pp_bench_dashboard`` (100 assets on 4 lines, 10 channels each,
10,000 one-minute timestamps per asset = 10,000,000 readings, loaded with
``data.bulk.write_readings``; 200 predictions per asset, open alerts, failure records), serves
the dashboard on a free loopback port and opens the overview in headless Chromium.

Each run starts a fresh server (``plantpulse dashboard``'s command: views preloaded, nothing
cached, a new browser origin) and opens the overview in a new browser session, measuring inside
the page (script injected before the first byte):
- ``browser_s``: navigation start until fully rendered: footer drawn, no script running, the
  fleet table and both charts (Vega canvases) on screen;
- ``first_content_s``: navigation start until the page title is shown;
- ``script_s``: the server-side script time the page reports in its footer ("Computed in").
Then a second new session on the same server (data cache warm, as for every later visitor
within the 10 s cache lifetime) is measured the same way. ``floor_cold``/``floor_warm`` do the
same for a plain ``streamlit run`` page with the same kinds of elements (title, table, two
charts, footer) and almost no data: what Streamlit itself costs on this machine at this load. The machine's load average is printed:
on a shared machine it explains most of the spread.
Readings are synthetic (random walks): this measures speed, not models.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

DB_NAME = "pp_bench_dashboard"
ASSETS, CHANNELS, STEPS = 100, 10, 10_000
START = datetime(2025, 3, 1, tzinfo=UTC)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000")


def admin(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def build(pg: str) -> str:
    """Create and fill the benchmark database; returns its URL."""
    from sqlalchemy.engine import make_url

    with admin(pg) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    url = make_url(pg).set(database=DB_NAME).render_as_string(hide_password=False)
    from plantpulse.data.store.db import Database

    db = Database(url)
    db.upgrade()
    started = time.perf_counter()
    ids = _assets(db)
    _readings(db, ids)
    loaded = time.perf_counter() - started
    _predictions_alerts(db, ids)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    db.dispose()
    print(f"built {DB_NAME}: {ASSETS * CHANNELS * STEPS:,} readings in {loaded:.0f} s")
    return url


def _assets(db) -> list[int]:
    from plantpulse.data.core.records import AssetSpec, ChannelSpec
    from plantpulse.data.store.repository import ensure_assets, ensure_channels

    specs = [AssetSpec(f"pump-{i:03d}", "pump" if i % 3 else "compressor", f"Plant {1 + i // 50}",
                       f"Line {'ABCD'[i % 4]}") for i in range(ASSETS)]
    with db.session() as session:
        ids = ensure_assets(session, specs)
        ensure_channels(session, [ChannelSpec(f"ch{c:02d}", "bar" if c % 2 else "mm/s") for c in range(CHANNELS)])
    return [ids[s.name] for s in specs]


def _readings(db, ids: list[int]) -> None:
    from plantpulse.data.store.bulk import ReadingBlock, write_readings

    rng = np.random.default_rng(0)
    ts = int(START.timestamp() * 1e6) + np.arange(STEPS, dtype=np.int64) * 60_000_000
    channel_ids = np.arange(1, CHANNELS + 1, dtype=np.int16)
    for first in range(0, len(ids), 10):
        group = ids[first:first + 10]
        values = 50 + np.cumsum(rng.normal(0, 0.2, (len(group), STEPS, CHANNELS)), axis=1)
        block = ReadingBlock.build(
            np.repeat(np.asarray(group, np.int32), STEPS * CHANNELS),
            np.tile(np.repeat(ts, CHANNELS), len(group)),
            np.tile(channel_ids, len(group) * STEPS), values.reshape(-1))
        with db.session() as session:
            write_readings(session.connection(), block, None)


def _predictions_alerts(db, ids: list[int]) -> None:
    from plantpulse.data.core.records import Prediction, PredictionRow
    from plantpulse.data.store.repository import raise_alert, register_model_version, upsert_predictions
    from plantpulse.data.store.schema import MaintenanceEvent

    rng = np.random.default_rng(1)
    with db.session() as session:
        version = register_model_version(session, name="bench-rul", kind="baseline", path="-",
                                         config={"rul_unit": "h"})
        rows = []
        for asset_id in ids:
            life = float(rng.uniform(20, 900))
            for k in range(200):
                end = START + timedelta(minutes=50 * k)
                rul = max(1.0, life + (200 - k) * 0.8)
                p = float(rng.uniform(0, 0.3))
                rows.append(PredictionRow(asset_id, end, version.id, Prediction(
                    rul, 0.8 * rul, 1.2 * rul, {"0.1": 0.8 * rul, "0.5": rul, "0.9": 1.2 * rul},
                    {"normal": 1 - p, "bearing": p}, anomaly_score=float(rng.uniform(0, 4)))))
            for j in range(3):
                session.add(MaintenanceEvent(asset_id=asset_id, ts=START + timedelta(hours=rng.uniform(1, 160)),
                                             kind="failure", text=f"failure {j}", source="bench",
                                             external_id=f"{asset_id}-{j}"))
        upsert_predictions(session, rows)
        for asset_id in ids[:15]:
            raise_alert(session, rule="rul_low", severity="critical" if asset_id % 2 else "warning",
                        message="RUL below threshold", dedupe_key=f"bench:{asset_id}", asset_id=asset_id)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Streamlit's own floor: a page with the same kinds of elements (title, table, two charts, footer)
# and almost no data, served by plain `streamlit run`.
FLOOR_PAGE = """
import altair as alt, pandas as pd, streamlit as st
st.title("Plant overview")
frame = pd.DataFrame({"x": [1, 2, 3], "y": [3, 1, 2]})
st.dataframe(frame)
st.altair_chart(alt.Chart(frame).mark_line().encode(x="x", y="y"))
st.altair_chart(alt.Chart(frame).mark_point().encode(x="x", y="y"))
st.caption("Computed in 0.00 s")
"""


def serve_floor() -> tuple[subprocess.Popen, str]:
    script = Path(tempfile.mkdtemp()) / "floor.py"
    script.write_text(FLOOR_PAGE)
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.address", "127.0.0.1",
               "--server.port", str(port), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    return _wait(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True), port)


def serve(url: str, plain: bool = False) -> tuple[subprocess.Popen, str]:
    """The dashboard on a free port: ``plantpulse dashboard``'s command, or plain ``streamlit run``."""
    from plantpulse.pipelines.cli.dashboard import streamlit_command

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTPULSE_")}
    env |= {"PLANTPULSE_DATABASE_URL": url, "PLANTPULSE_HOME": tempfile.mkdtemp()}
    command = streamlit_command("127.0.0.1", port)
    if plain:  # the same options, without the preloading launcher
        app = Path(__file__).resolve().parents[1] / "app" / "main.py"
        command = [command[0], "-m", "streamlit", "run", str(app), *command[3:]]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    return _wait(process, port)


def _wait(process: subprocess.Popen, port: int) -> tuple[subprocess.Popen, str]:
    address = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{address}/_stcore/health", timeout=1):
                return process, address
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("dashboard did not start")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*FLAGS, f"--user-data-dir={tempfile.mkdtemp()}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


# Runs in the page from its first byte: records, in ms since navigation start, when the overview
# is fully rendered (footer drawn, no script running, fleet table and two charts on screen).
WATCH = """
window.__pp = {};
(function tick() {
  const main = document.querySelector("[data-testid='stMain']");
  const text = main ? main.innerText : "";
  const charts = document.querySelectorAll(
    "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").length;
  const grid = document.querySelectorAll("[data-testid='stDataFrame'] canvas").length;
  const running = document.querySelector("[data-testid='stStatusWidget']");
  if (!window.__pp.first && text.includes("Plant overview")) window.__pp.first = performance.now();
  if (text.includes("Computed in") && !running && charts >= 2 && grid) {
    window.__pp.done = performance.now();
    window.__pp.footer = (text.match(/Computed in ([0-9.]+) s/) || [])[1];
    return;
  }
  setTimeout(tick, 5);
})();
"""


def measure(driver, address: str) -> dict[str, float]:
    """Open the overview in a new session (a fresh page load) and time it inside the page."""
    driver.get("about:blank")
    driver.get(address)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        marks = driver.execute_script("return window.__pp")
        if marks and marks.get("done"):
            return {"browser_s": marks["done"] / 1000, "first_content_s": marks["first"] / 1000,
                    "script_s": float(marks["footer"])}
        time.sleep(0.05)
    from selenium.webdriver.common.by import By

    shown = driver.find_element(By.TAG_NAME, "body").text[:500]
    raise RuntimeError(f"the overview did not render within 60 s; the page shows: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse an existing benchmark database")
    parser.add_argument("--out", type=Path, default=None, help="write the raw timings as JSON here")
    parser.add_argument("--plain", action="store_true",
                        help="serve with plain `streamlit run app/main.py` (no preloading launcher)")
    args = parser.parse_args()
    from sqlalchemy.engine import make_url

    url = (make_url(args.pg).set(database=DB_NAME).render_as_string(hide_password=False)
           if args.reuse else build(args.pg))
    results: dict[str, list[dict[str, float]]] = {"cold": [], "warm": [], "floor_cold": [], "floor_warm": []}
    driver = browser()
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
    load = os.getloadavg()[0]
    try:
        for run in range(args.runs):
            for prefix, start in (("", lambda: serve(url, args.plain)), ("floor_", serve_floor)):
                process, address = start()
                try:
                    results[f"{prefix}cold"].append(measure(driver, address))
                    results[f"{prefix}warm"].append(measure(driver, address))
                finally:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=10)
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]['browser_s']:.2f} s" for k, v in results.items()))
    finally:
        driver.quit()
        if not args.keep:
            with admin(args.pg) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    keys = ("browser_s", "first_content_s", "script_s")
    summary = {kind: {key: round(statistics.median(r[key] for r in runs), 3) for key in keys}
               for kind, runs in results.items()}
    report = {"median": summary, "runs": args.runs, "load_average_1min": [round(load, 2),
                                                                         round(os.getloadavg()[0], 2)]}
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps({**report, "raw": results}, indent=1))


if __name__ == "__main__":
    main()
