"""docker-compose's live chain without Docker: simulator -> connector -> database -> scheduler -> alerts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from live_chain import MODEL, LiveChain, train_baseline
from sqlalchemy import func, select

from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import Alert, Asset, JobRun, Prediction, QuarantinedRow, SensorReading

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def snapshot(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {
            "readings": s.scalar(select(func.count()).select_from(SensorReading)),
            "quarantined": s.scalar(select(func.count()).select_from(QuarantinedRow)),
            "predictions": s.scalar(select(func.count()).select_from(Prediction)),
            "alerts": s.scalar(select(func.count()).select_from(Alert).where(Alert.rule == "rul_low")),
            "runs": s.scalar(select(func.count()).select_from(JobRun).where(JobRun.status == "succeeded")),
        }


def test_simulator_to_alerts_as_separate_processes(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'plant.db'}")
    db.upgrade()
    train_baseline(db, tmp_path)
    chain = LiveChain(tmp_path / "home", db.url, ["--engines", "3", "--period", "0.05", "--faults", "0.01"],
                      env={"PLANTPULSE_ALERTS__RUL_THRESHOLD": "150"})  # every engine alerts: the chain is the test
    try:
        chain.start()
        deadline = time.monotonic() + 90
        while True:
            chain.check()
            seen = snapshot(db)
            # alerts are written inside a scoring run, before the run is marked succeeded: wait for both
            if seen["alerts"] >= 3 and seen["readings"] >= 126 * 24 and seen["runs"] >= 1:
                break
            assert time.monotonic() < deadline, f"chain incomplete after 90 s: {seen}\n{chain.log('ingest')}"
            time.sleep(0.5)
    finally:
        chain.stop()
    with db.session() as s:
        assets = {a.name: a for a in s.scalars(select(Asset))}
        last = {a: s.scalar(select(func.max(SensorReading.ts)).where(SensorReading.asset_id == asset.id))
                for a, asset in assets.items()}
        newest = {assets_by_id: ts for assets_by_id, ts in s.execute(
            select(Prediction.asset_id, func.max(Prediction.window_end)).group_by(Prediction.asset_id))}
        alerts = s.scalars(select(Alert).where(Alert.rule == "rul_low")).all()
        runs = s.scalars(select(JobRun)).all()
    assert set(assets) == {"turbofan-fd001-test-001", "turbofan-fd001-test-002", "turbofan-fd001-test-003"}
    assert all(a.asset_type == "turbofan" for a in assets.values())
    assert seen["quarantined"] > 0, "injected faults reached quarantine"
    assert {a.asset_id for a in alerts} == {a.id for a in assets.values()}
    assert all(MODEL in a.evidence["model"] for a in alerts)
    assert newest[assets["turbofan-fd001-test-001"].id] == last["turbofan-fd001-test-001"], "scored its last window"
    assert all(r.status in {"succeeded", "running"} for r in runs) and seen["runs"] >= 1
    assert (tmp_path / "home" / "workorders").is_dir()
    db.dispose()
