"""Helpers for the scoring, alert and scheduler tests: a small fleet, a fixed predictor.

``FixedPredictor`` (predictor kind ``test-fixed``) reads its parameters from a JSON file and
predicts from the window's last value of channel ``a``: RUL = ``rul_scale`` * last a, anomaly
= ``anomaly``, fault probability = ``fault``. ``sleep_s`` slows each predict call (kill tests).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from plantpulse.data.core.records import AssetSpec, ChannelSpec, Prediction, SensorWindow
from plantpulse.data.store.bulk import ReadingBlock, write_readings
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import (
    ensure_assets,
    ensure_channels,
    promote_model_version,
    register_model_version,
)
from plantpulse.model.predictor import PREDICTORS

CHANNELS = ("a", "b")
MODEL = "plantpulse-student"  # the default of scoring.model
T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
HOUR_US = 3_600_000_000


class FixedPredictor:
    name = "fixed"
    asset_types = ("pump",)
    channels = CHANNELS
    accepts_text = False
    log_features = None

    def __init__(self, params: dict) -> None:
        self.params = params
        self.window_length = int(params.get("window", 5))

    def for_asset_type(self, asset_type: str) -> FixedPredictor:
        return self

    def predict(self, windows: Sequence[SensorWindow], texts: Sequence[str | None] | None = None,
                features: np.ndarray | None = None) -> list[Prediction]:
        time.sleep(float(self.params.get("sleep_s", 0.0)))
        out = []
        for w in windows:
            last = float(w.values[-1, w.channels.index("a")])
            rul = self.params.get("rul_scale", 1.0) * last
            out.append(Prediction(rul_mean=rul, rul_lower=rul * 0.8, rul_upper=rul * 1.2,
                                  rul_quantiles={"0.1": rul * 0.8, "0.9": rul * 1.2},
                                  fault_probs={"normal": 1 - self.params.get("fault", 0.0),
                                               "inner_race": self.params.get("fault", 0.0)},
                                  anomaly_score=float(self.params.get("anomaly", 0.5))))
        return out


def load_fixed(path: Path) -> FixedPredictor:
    return FixedPredictor(json.loads(Path(path).read_text()))


if "test-fixed" not in PREDICTORS:
    PREDICTORS.add("test-fixed", load_fixed)


def register_fixed(db: Database, folder: Path, name: str = MODEL, **params: float) -> int:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(params))
    with db.session() as s:
        version = register_model_version(s, name=name, kind="test-fixed", path=str(path))
        promote_model_version(s, version.id)
        return version.id


def add_readings(db: Database, asset: str, values_a: Sequence[float], start_hour: int = 0,
                 asset_type: str = "pump") -> None:
    """Hourly readings of channels a (given) and b (= 2a) for ``asset``."""
    a = np.asarray(values_a, dtype=np.float64)
    n = len(a)
    ts = T0_US + (start_hour + np.arange(n)) * HOUR_US
    with db.session() as s:
        asset_id = ensure_assets(s, [AssetSpec(asset, asset_type)])[asset]
        ids = ensure_channels(s, [ChannelSpec(c) for c in CHANNELS])
        block = ReadingBlock.build(np.full(2 * n, asset_id), np.repeat(ts, 2), np.tile([ids["a"], ids["b"]], n),
                                   np.column_stack([a, 2 * a]).reshape(-1))
        write_readings(s.connection(), block, None)


def make_fleet(db: Database, lasts: Sequence[float], length: int = 8) -> list[str]:
    """One pump per value: readings decreasing linearly to ``last`` (channel a)."""
    names = []
    for i, last in enumerate(lasts):
        name = f"pump-{i:02d}"
        add_readings(db, name, np.linspace(last + length, last, length))
        names.append(name)
    return names
