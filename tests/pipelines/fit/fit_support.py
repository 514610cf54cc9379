"""Small synthetic plant data for the fit tests: hourly readings of five pumps that wear out,
written as the CSV files and maintenance log a plant would export.

Pumps p1-p4 fail at the end of their run (a 'failure' event with code 'E7'); p5 never fails
(right-censored). Vibration grows with wear, temperature drifts; 'state' is a label column
(0 healthy, 1 worn: the second half of the run).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from plantpulse.data.core.records import Prediction
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import ModelVersion

# a fit that runs in seconds: tests check the plumbing, not the quality
TINY: dict[str, Any] = dict(asset_type="pump", window=8, stride=2, epochs=1, steps=2, batch_size=8,
                            gbm_rounds=20, seed=0)
START = datetime(2024, 1, 1, tzinfo=UTC)
LIVES = {"p1": 70, "p2": 90, "p3": 80, "p4": 100, "p5": 85}  # hours of readings
FAILING = ("p1", "p2", "p3", "p4")


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def wear(hours: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    frac = np.arange(hours) / hours
    vib = 1.0 + 2.0 * frac**2 + rng.normal(0, 0.05, hours)
    temp = 50.0 + 8.0 * frac + rng.normal(0, 0.3, hours)
    return vib, temp


def write_sensors(folder: Path, seed: int = 0) -> Path:
    """readings.csv: asset,timestamp,vib,temp,state (one row an hour; p3 has a 5-hour gap)."""
    rng = np.random.default_rng(seed)
    lines = ["asset,timestamp,vib,temp,state"]
    for asset, hours in LIVES.items():
        vib, temp = wear(hours, rng)
        for h in range(hours):
            if asset == "p3" and 30 <= h < 35:
                continue
            state = int(h >= hours // 2)
            lines.append(f"{asset},{_iso(START + timedelta(hours=h))},{vib[h]:.4f},{temp[h]:.3f},{state}")
    path = folder / "readings.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def end_time(asset: str) -> datetime:
    return START + timedelta(hours=LIVES[asset])


def write_log(folder: Path) -> Path:
    """log.csv: a routine inspection per pump, a warning code 'W1' 12 h before the end of the
    failing ones, and their failure at the end."""
    lines = ["Date,Equipment,Kind,Code,Description"]
    for asset in LIVES:
        lines.append(f"{_iso(START + timedelta(hours=5))},{asset},inspection,,Routine check")
        if asset in FAILING:
            lines.append(f"{_iso(end_time(asset) - timedelta(hours=12))},{asset},warning,W1,High vibration")
            lines.append(f"{_iso(end_time(asset))},{asset},failure,E7,Bearing seized")
    path = folder / "log.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_end_times(folder: Path) -> Path:
    path = folder / "ends.csv"
    path.write_text("asset,end_time\n" + "".join(f"{a},{_iso(end_time(a))}\n" for a in FAILING), encoding="utf-8")
    return path


def write_label_file(folder: Path, ranges: bool) -> Path:
    """asset,class per asset (alternating), or asset,start,end,class (healthy then worn halves)."""
    path = folder / ("ranges.csv" if ranges else "classes.csv")
    if not ranges:
        rows = "".join(f"{a},{'big' if i % 2 else 'small'}\n" for i, a in enumerate(LIVES))
        path.write_text("asset,class\n" + rows, encoding="utf-8")
        return path
    lines = ["asset,start,end,class"]
    for asset, hours in LIVES.items():
        middle = START + timedelta(hours=hours // 2)
        lines.append(f"{asset},{_iso(START)},{_iso(middle - timedelta(minutes=1))},healthy")
        lines.append(f"{asset},{_iso(middle)},{_iso(end_time(asset))},worn")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SNAPSHOT_ASSETS = ("b1", "b2", "b3", "b4")
RATE_HZ = 1000
BURST = 128


def write_snapshots(folder: Path, bursts: int = 30, seed: int = 0) -> tuple[Path, Path]:
    """High-rate vibration stored as snapshots: every 10 minutes a burst of 128 samples at 1 kHz.
    Each bearing is healthy for its first half and has an outer-race fault (a 180 Hz line and
    impacts) after; returns the readings and a label file of time ranges (healthy / outer)."""
    rng = np.random.default_rng(seed)
    t = np.arange(BURST) / RATE_HZ
    lines, labels = ["asset,timestamp,accel"], ["asset,start,end,class"]
    for asset in SNAPSHOT_ASSETS:
        for b in range(bursts):
            start = START + timedelta(minutes=10 * b)
            faulty = b >= bursts // 2
            signal = np.sin(2 * np.pi * 50 * t) + rng.normal(0, 0.3, BURST)
            if faulty:
                signal += 0.8 * np.sin(2 * np.pi * 180 * t) + (rng.random(BURST) < 0.03) * 3.0
            for i, value in enumerate(signal):
                stamp = (start + timedelta(microseconds=1000 * i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                lines.append(f"{asset},{stamp},{value:.5f}")
        middle = START + timedelta(minutes=10 * (bursts // 2))
        labels.append(f"{asset},{_iso(START)},{_iso(middle - timedelta(minutes=1))},healthy")
        labels.append(f"{asset},{_iso(middle)},{_iso(START + timedelta(minutes=10 * bursts))},outer")
    readings, label_file = folder / "snapshots.csv", folder / "bearing-labels.csv"
    readings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    label_file.write_text("\n".join(labels) + "\n", encoding="utf-8")
    return readings, label_file


def latest_predictions(db: Database, kind: str, assets: list[str], window: int) -> list[Prediction]:
    """What the registered model of predictor ``kind`` says about the latest window of ``assets``
    (loaded through the predictor registry, as scoring does)."""
    from plantpulse.data.store.repository import asset_ids, latest_windows
    from plantpulse.model.predictor import load_predictor
    from plantpulse.pipelines.score.compute import recent_log_features

    with db.session() as s:
        version = s.scalars(select(ModelVersion).where(ModelVersion.kind == kind)).one()
        predictor = load_predictor(kind, Path(version.path)).for_asset_type("pump")
        windows = list(latest_windows(s, list(asset_ids(s, assets).values()), window).values())
        spec = predictor.log_features  # the maintenance-log features, computed from the store as scoring does
        features = None if spec is None else recent_log_features(s, windows, spec)
    return predictor.predict(windows, None, features)
