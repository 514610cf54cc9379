"""End-to-end latency: an OPC-UA value change -> stored reading -> stored prediction -> alert.

    nice python benchmarks/bench_latency.py --seconds 60

Runs the live chain as separate processes (simulator, ``opcua-ingest``, ``scheduler``) on
127.0.0.1 with a SQLite database, 20 C-MAPSS engines replayed one cycle every 0.5 s, publishing
every 100 ms, flushing every 200 ms and scoring every second (a plant would score every few
minutes: add that interval). Latencies are measured from each value's source timestamp (set by
the simulator when it publishes) to the database's records: the ingest batch that stored it,
the prediction whose window ends with it, and the alert raised from that prediction. Medians
and 95th percentiles over the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import select

from plantpulse.data.core.times import to_micros
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import Alert, IngestBatch, Prediction, SensorReading

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from live_chain import LiveChain, train_baseline


def stats(values_s: list[float]) -> dict[str, float]:
    arr = np.asarray(values_s)
    return {"n": int(arr.size), "median_s": round(float(np.median(arr)), 3), "p95_s": round(float(np.percentile(arr, 95)), 3)}


def measure(db: Database, warmup_s: float) -> dict[str, dict[str, float]]:
    """Latencies of values published after ``warmup_s`` (start-up catch-up is not steady state)."""
    with db.session() as s:
        first = min(to_micros(t) for (t,) in s.execute(select(SensorReading.ts).limit(1000)))
        since = first + int(warmup_s * 1e6)
        stored = [(to_micros(done) - to_micros(ts)) / 1e6 for ts, done in s.execute(
            select(SensorReading.ts, IngestBatch.finished_at).join(IngestBatch, IngestBatch.id == SensorReading.batch_id))
            if to_micros(ts) >= since]
        predictions = s.execute(select(Prediction.asset_id, Prediction.created_at, Prediction.window_end)).all()
        predicted = [(to_micros(c) - to_micros(w)) / 1e6 for _, c, w in predictions if to_micros(w) >= since]
        alerted = []
        for asset_id, created in s.execute(select(Alert.asset_id, Alert.created_at)):
            # the prediction written in the same transaction as the alert's creation
            same = [w for a, c, w in predictions if a == asset_id and abs(to_micros(c) - to_micros(created)) < 1e6]
            if same and to_micros(max(same)) >= since:
                alerted.append((to_micros(created) - to_micros(max(same))) / 1e6)
    return {"value_to_reading": stats(stored), "value_to_prediction": stats(predicted),
            "value_to_alert": stats(alerted)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        db = Database(f"sqlite:///{tmp / 'plant.db'}")
        db.upgrade()
        train_baseline(db, tmp)
        # threshold above the RUL cap: each engine's first prediction opens an alert (later ones
        # refresh it), so there is one alert latency per engine
        chain = LiveChain(tmp / "home", db.url, ["--engines", "20", "--period", "0.5", "--loop"],
                          env={"PLANTPULSE_ALERTS__RUL_THRESHOLD": "1000"})
        try:
            chain.start()
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline:
                chain.check()
                time.sleep(1.0)
        finally:
            chain.stop()
        print(json.dumps(measure(db, warmup_s=10.0), indent=1))
        db.dispose()


if __name__ == "__main__":
    main()
