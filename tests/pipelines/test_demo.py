"""The demo loads the real sample end to end, and a second run changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from plantpulse.data.db import Database
from plantpulse.data.schema import Alert, Asset, IngestBatch, MaintenanceEvent, Prediction, SensorReading, WeldImage
from plantpulse.pipelines.config import load_settings
from plantpulse.pipelines.demo import run_demo


def _counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {table.__tablename__: s.scalar(select(func.count()).select_from(table))
                for table in (Asset, SensorReading, MaintenanceEvent, WeldImage, Prediction, Alert, IngestBatch)}


@pytest.mark.slow
def test_demo_loads_scores_and_is_idempotent(tmp_path: Path) -> None:
    settings = load_settings(env={}, home=str(tmp_path / "home"))
    lines: list[str] = []
    run_demo(settings, echo=lines.append)
    db = Database(settings.db_url)
    first = _counts(db)
    assert first["assets"] == 24
    assert first["sensor_readings"] == 2435 * 24 + 6480 * 4  # every value of both sensor files
    assert first["maintenance_events"] == 102 + 106 + 16 + 300
    assert first["weld_images"] == 15
    assert first["predictions"] == 20  # one per turbofan
    assert any("RUL model" in line for line in lines)
    with db.session() as s:
        rul = s.execute(select(Prediction.rul_lower, Prediction.rul_mean, Prediction.rul_upper)).all()
    assert all(lo <= mid <= hi for lo, mid, hi in rul)
    run_demo(settings, echo=lines.append)
    assert _counts(db) == first
