"""Scoring throughput: windows per second, local engine vs Ray Data with N workers.

    nice python benchmarks/bench_score.py --assets 2000 --workers 2 --repeats 3

Builds a fleet of turbofan assets (each with 40 cycles replayed from the bundled C-MAPSS test
engines) in a fresh SQLite database, trains the baseline on the bundled training engines, then
times scoring the latest 30-cycle window of every asset: reading windows from the database and
predicting (``score_assets``), locally and on a private local Ray. Ray's start-up is reported
apart; each Ray run includes starting its actors and loading the model in them. Medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from plantpulse.connectors.opcua.sim.replay import CMAPSS_CHANNELS
from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.core.records import AssetSpec, ChannelSpec
from plantpulse.data.core.resources import sample_dir
from plantpulse.data.store.bulk import ReadingBlock, write_readings
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import ensure_assets, ensure_channels
from plantpulse.pipelines.score.compute import candidates, load_model, resolve_model, score_assets
from plantpulse.pipelines.score.job import ScoreRequest, run_scoring

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from live_chain import MODEL, train_baseline

CYCLES = 40
HOUR_US = 3_600_000_000


def build_fleet(db: Database, n_assets: int) -> None:
    frame = pd.read_csv(sample_dir() / "sensors" / "turbofan_fd001_test.csv")
    series = [rows.sort_values("cycle")[list(CMAPSS_CHANNELS)].to_numpy(np.float64)
              for _, rows in frame.groupby("asset") if len(rows) >= CYCLES]
    with db.session() as s:
        names = [f"turbofan-bench-{i:05d}" for i in range(n_assets)]
        ids = ensure_assets(s, [AssetSpec(n, "turbofan") for n in names])
        channel_ids = ensure_channels(s, [ChannelSpec(c) for c in CMAPSS_CHANNELS])
        chans = np.array([channel_ids[c] for c in CMAPSS_CHANNELS])
        for i, name in enumerate(names):
            values = series[i % len(series)][:CYCLES]
            ts = 1_767_225_600_000_000 + np.arange(CYCLES) * HOUR_US
            write_readings(s.connection(), ReadingBlock.build(
                np.full(values.size, ids[name]), np.repeat(ts, len(chans)), np.tile(chans, CYCLES),
                values.reshape(-1)), None)


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        db = Database(f"sqlite:///{tmp / 'plant.db'}")
        db.upgrade()
        build_fleet(db, args.assets)
        train_baseline(db, tmp)
        with db.session() as s:
            ref = resolve_model(s, MODEL)
            todo = candidates(s, ref, ("turbofan",))
        predictor = load_model(ref)
        local = timed(lambda: score_assets(db, predictor, ref, todo, args.batch_size), args.repeats)
        report = {"assets": len(todo), "window": predictor.window_length, "channels": len(predictor.channels),
                  "local_s": [round(t, 2) for t in local],
                  "local_windows_per_s": round(len(todo) / statistics.median(local))}
        settings = load_settings(env={}, home=str(tmp / "home"))
        start = time.perf_counter()
        job = run_scoring(settings, db, ScoreRequest(MODEL, batch_size=args.batch_size))
        report["local_job_with_writes_s"] = round(time.perf_counter() - start, 2)
        report["job_predictions"] = job.predictions
        if not args.no_ray:
            report |= ray_figures(db, ref, todo, args)
        print(json.dumps(report, indent=1))
        db.dispose()


def ray_figures(db: Database, ref, todo, args) -> dict:
    import ray

    from plantpulse.pipelines.runtime.ray_engine import score_on_ray

    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    startup = time.perf_counter() - start
    try:
        runs = timed(lambda: score_on_ray(db.url, ref, todo, args.batch_size, args.workers), args.repeats)
    finally:
        ray.shutdown()
    return {"ray_workers": args.workers, "ray_startup_s": round(startup, 1), "ray_s": [round(t, 2) for t in runs],
            "ray_windows_per_s": round(len(todo) / statistics.median(runs))}


if __name__ == "__main__":
    main()
