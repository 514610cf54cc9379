"""Seed a test database with the bundled real sample (data/sample) through the data layer.

Readings, maintenance events and weld images are the sample's real values. The predictions are
test fixtures, not model output: turbofan RUL follows the sample's true RUL
(``turbofan_fd001_test_rul.csv``) with a ±20 % interval, and the machines' fault probabilities
rise towards their next logged failure. They exercise the pages; they claim no accuracy.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from plantpulse.data.core.records import AssetSpec, ChannelSpec, Prediction, PredictionRow, Rejection
from plantpulse.data.store.bulk import ReadingBlock, write_readings
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import (
    ensure_assets,
    ensure_channels,
    quarantine,
    raise_alert,
    register_model_version,
    upsert_predictions,
)
from plantpulse.data.store.schema import (
    IngestBatch,
    JobRun,
    MaintenanceEvent,
    WeldImage,
    WeldInspection,
)

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
WELD_NAMES = ("Bad Weld", "Good Weld", "Defect")
UNITS = {"volt": "V", "rotate": "rpm", "pressure": "psi", "vibration": "mm/s"}


@dataclass(frozen=True, slots=True)
class Seeded:
    assets: dict[str, int]
    readings: int
    alerts: int
    inspections: int
    batch_id: int


def _utc(text: pd.Series) -> np.ndarray:
    return pd.to_datetime(text, utc=True).astype("int64").to_numpy() // 1000


def load_readings(db: Database, assets: dict[str, int], frame: pd.DataFrame,
                  channels: list[str]) -> int:
    """Write a wide sample frame (asset, timestamp, channels...) through ``write_readings``."""
    with db.session() as session:
        ids = ensure_channels(session, [ChannelSpec(c, UNITS.get(c, "")) for c in channels])
        n, ts = len(frame), _utc(frame["timestamp"])
        asset = frame["asset"].map(assets).to_numpy()
        block = ReadingBlock.build(
            np.repeat(asset, len(channels)), np.repeat(ts, len(channels)),
            np.tile([ids[c] for c in channels], n), frame[channels].to_numpy().reshape(-1))
        return write_readings(session.connection(), block, None).inserted


def _turbofan_predictions(db: Database, assets: dict[str, int], frame: pd.DataFrame) -> list[int]:
    truth = pd.read_csv(SAMPLE / "training" / "turbofan_fd001_test_rul.csv")
    with db.session() as session:
        version = register_model_version(session, name="rul-baseline", kind="baseline",
                                         path="models/rul-baseline-v1.safetensors", task="rul",
                                         metrics={"rmse": 18.4}, config={"rul_unit": "cycles"})
        rows = []
        for name, true_rul in zip(truth["asset"], truth["true_rul_cycles"], strict=True):
            engine = frame[frame["asset"] == name]
            last = int(engine["cycle"].max())
            for cycle in range(max(1, last - 45), last + 1, 5):
                end = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=cycle - 1)
                rul = float(true_rul + last - cycle)
                rows.append(PredictionRow(
                    asset_id=assets[name], window_end=end, model_version_id=version.id,
                    prediction=Prediction(
                        rul_mean=rul, rul_lower=0.8 * rul, rul_upper=1.2 * rul,
                        rul_quantiles={"0.1": 0.8 * rul, "0.5": rul, "0.9": 1.2 * rul},
                        anomaly_score=float(np.clip(2.5 - rul / 60, 0, None)),
                        modality_shares={"sensor": 0.82, "text": 0.18},
                        expert_shares=(0.31, 0.0, 0.0, 0.44, 0.0, 0.0, 0.0, 0.25))))
        upsert_predictions(session, rows)
        low = truth[truth["true_rul_cycles"] < 30]
        for name, rul in zip(low["asset"], low["true_rul_cycles"], strict=True):
            raise_alert(session, rule="rul_low", severity="critical" if rul < 20 else "warning",
                        message=f"RUL {rul} cycles (interval {0.8 * rul:.0f}–{1.2 * rul:.0f}) "
                                "is below the 30-cycle threshold",
                        dedupe_key=f"rul_low:{name}", asset_id=assets[name],
                        evidence={"rul_mean": float(rul)},
                        recommended_action="Schedule a borescope inspection and plan an engine swap.")
        return list(low["asset"])


def _machine_data(db: Database, assets: dict[str, int]) -> None:
    logs = SAMPLE / "logs"
    with db.session() as session:
        for file, kind in (("PdM_errors.csv", "error"), ("PdM_maint.csv", "maintenance"),
                           ("PdM_failures.csv", "failure")):
            table = pd.read_csv(logs / file, header=None, names=["ts", "machine", "code"])
            for line, (ts, machine, code) in enumerate(table.itertuples(index=False), start=1):
                session.add(MaintenanceEvent(
                    asset_id=assets[f"azure-machine-{machine:03d}"],
                    ts=pd.Timestamp(ts, tz="UTC").to_pydatetime(), kind=kind, code=code,
                    component=code if code.startswith("comp") else None,
                    text=f"{kind} {code} on machine {machine}", source=file, external_id=str(line)))
        version = register_model_version(session, name="pdm-faults", kind="baseline",
                                         path="models/pdm-faults-v1.safetensors", task="faults",
                                         config={"rul_unit": "h"})
        failures = pd.read_csv(logs / "PdM_failures.csv", header=None, names=["ts", "machine", "comp"])
        rows = []
        for machine in (1, 2, 3):
            mine = failures[failures["machine"] == machine]
            for day in range(1, 90, 3):
                end = datetime(2015, 1, 1, 6, tzinfo=UTC) + timedelta(days=day)
                ahead = [(pd.Timestamp(t, tz="UTC") - end).total_seconds() / 3600
                         for t in mine["ts"]]
                hours = min((h for h in ahead if h > 0), default=2000.0)
                comp = mine["comp"].iloc[[h > 0 for h in ahead].index(True)] if hours < 2000 else "comp1"
                p = float(np.exp(-hours / 150))
                probs = {"none": 1 - p, comp: p}
                rows.append(PredictionRow(asset_id=assets[f"azure-machine-{machine:03d}"],
                                          window_end=end, model_version_id=version.id,
                                          prediction=Prediction(rul_mean=hours, rul_lower=0.7 * hours,
                                                                rul_upper=1.3 * hours, fault_probs=probs,
                                                                anomaly_score=2 * p)))
        upsert_predictions(session, rows)


WEAK_SCORES = (0.04, 0.03, 0.02)


def _weak_boxes(index: int, width: int, height: int) -> list[dict]:
    """Low-score boxes like the detector's clutter (it stores every box scoring 0.01 or more)."""
    return [{"class_id": 2 - k % 2 * 2, "class_name": WELD_NAMES[2 - k % 2 * 2], "score": score,
             "box": [width * (0.1 + 0.25 * k), height * (0.1 + 0.05 * (index % 5)),
                     width * (0.3 + 0.25 * k), height * (0.3 + 0.05 * (index % 5))]}
            for k, score in enumerate(WEAK_SCORES)]


def _weld(db: Database, assets: dict[str, int], store: Path) -> int:
    images = sorted((SAMPLE / "weld" / "images").iterdir())
    start = datetime(2025, 3, 3, 6, tzinfo=UTC)
    with db.session() as session:
        version = register_model_version(session, name="weld-yolo", kind="yolo", path="none",
                                         task="weld-detection", config={"names": list(WELD_NAMES)})
        for i, path in enumerate(images):
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            target = store / sha[:2] / f"{sha}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            width, height = Image.open(path).size
            image = WeldImage(sha256=sha, storage_path=f"{sha[:2]}/{sha}.jpg", original_name=path.name,
                              width=width, height=height, format="JPEG", asset_id=assets["weld-cell-01"],
                              captured_at=start + timedelta(hours=6 * i), shift="AB"[(i // 2) % 2])
            session.add(image)
            session.flush()
            boxes = []
            for j, line in enumerate((SAMPLE / "weld" / "labels" / f"{path.stem}.txt").read_text().split("\n")):
                if not line.strip():
                    continue
                cls, cx, cy, w, h = (float(v) for v in line.split())
                boxes.append({"class_id": int(cls), "class_name": WELD_NAMES[int(cls)],
                              "score": round(0.9 - 0.1 * j, 3),
                              "box": [(cx - w / 2) * width, (cy - h / 2) * height,
                                      (cx + w / 2) * width, (cy + h / 2) * height]})
            boxes += _weak_boxes(i, width, height)
            bad = [b["score"] for b in boxes if b["class_name"] != "Good Weld"]
            score = max(bad)
            session.add(WeldInspection(image_id=image.id, model_version_id=version.id,
                                       verdict="reject" if score >= 0.5 else "pass",
                                       reject_score=score, threshold=0.5, boxes=boxes))
    return len(images)


def _batch(db: Database) -> int:
    with db.session() as session:
        batch = IngestBatch(connector="csv", source="line-a-export.csv", content_sha256="0" * 64,
                            status="committed", rows_total=5, rows_loaded=3, rows_quarantined=2,
                            finished_at=datetime.now(UTC))
        session.add(batch)
        session.flush()
        quarantine(session, batch.id, [
            Rejection("line-a-export.csv", 3, "vibration", "not numeric (got 'n/a')", "m1,2025,n/a"),
            Rejection("line-a-export.csv", 5, "timestamp", "not a timestamp (got '31/02')", "m1,31/02,4"),
        ])
        now = datetime.now(UTC)
        session.add_all([
            JobRun(job="score", status="succeeded", started_at=now - timedelta(minutes=31),
                   finished_at=now - timedelta(minutes=30), rows=23),
            JobRun(job="score", status="failed", started_at=now - timedelta(minutes=16),
                   finished_at=now - timedelta(minutes=15), error="database is locked"),
        ])
        return batch.id


def seed_sample(db: Database, store: Path) -> Seeded:
    """Load the sample's assets, readings, logs and weld images plus fixture predictions."""
    registry = pd.read_csv(SAMPLE / "assets.csv").fillna("")
    with db.session() as session:
        assets = ensure_assets(session, [AssetSpec(r.name, r.asset_type, r.site, r.line, r.model or None)
                                         for r in registry.itertuples(index=False)])
    turbofan = pd.read_csv(SAMPLE / "sensors" / "turbofan_fd001_test.csv")
    sensors = [c for c in turbofan.columns if c.startswith("s_")]
    n = load_readings(db, assets, turbofan, sensors)
    azure = pd.read_csv(SAMPLE / "sensors" / "azure_telemetry.csv")
    n += load_readings(db, assets, azure, ["volt", "rotate", "pressure", "vibration"])
    bearings = pd.read_csv(SAMPLE / "sensors" / "cwru_bearings_de_0hp.csv")
    n += load_readings(db, assets, bearings, ["drive_end_accel"])
    alerts = _turbofan_predictions(db, assets, turbofan)
    _machine_data(db, assets)
    inspections = _weld(db, assets, store)
    return Seeded(assets, n, len(alerts), inspections, _batch(db))


PUMP_LIVES = {"pump-01": 60, "pump-02": 72, "pump-03": 66, "pump-04": 80, "pump-05": 70}  # hours of readings
PUMPS_FAILING = ("pump-01", "pump-02", "pump-03", "pump-04")  # pump-05 is still running (censored)


def seed_pumps(db: Database, seed: int = 0) -> dict[str, int]:
    """Five synthetic pumps (asset type ``pump``), hourly ``pump_vib`` and ``pump_temp`` that climb
    as they wear, and a ``failure`` event (code E7) ending four of them: small enough for a training
    run of a few seconds (the dashboard's training tab)."""
    rng = np.random.default_rng(seed)
    with db.session() as session:
        assets = ensure_assets(session, [AssetSpec(name, "pump", "Plant 1", "Line P", None) for name in PUMP_LIVES])
    start = pd.Timestamp("2024-06-01T00:00:00Z")
    frames = []
    for name, hours in PUMP_LIVES.items():
        used = np.linspace(0.0, 1.0, hours)
        frames.append(pd.DataFrame({
            "asset": name, "timestamp": [(start + pd.Timedelta(hours=h)).isoformat() for h in range(hours)],
            "pump_vib": 0.8 + 1.5 * used ** 3 + rng.normal(0, 0.04, hours),
            "pump_temp": 45.0 + 6.0 * used + rng.normal(0, 0.2, hours)}))
    load_readings(db, assets, pd.concat(frames, ignore_index=True), ["pump_vib", "pump_temp"])
    with db.session() as session:
        for name in PUMPS_FAILING:
            session.add(MaintenanceEvent(
                asset_id=assets[name], ts=(start + pd.Timedelta(hours=PUMP_LIVES[name])).to_pydatetime(),
                kind="failure", code="E7", text=f"{name}: bearing seized", source="pump-log.csv",
                external_id=name))
    return assets
