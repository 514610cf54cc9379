"""The demo loads the real sample end to end, and a second run changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import (
    Alert,
    Asset,
    IngestBatch,
    MaintenanceEvent,
    ModelVersion,
    Prediction,
    SensorReading,
    WeldImage,
)
from plantpulse.model.moe.checkpoint import CheckpointError
from plantpulse.pipelines.cli.demo import (
    SAMPLE,
    SHIPPED_BEARING_STUDENT,
    SHIPPED_STUDENT,
    ensure_bearing_model,
    ensure_rul_model,
    run_demo,
)
from plantpulse.pipelines.ingest.entry import prepare_database


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
    assert first["assets"] == 51
    # every value of the three sensor files: turbofans, machine telemetry, bearing vibration
    assert first["sensor_readings"] == 2435 * 24 + 43200 * 4 + 10 * 2048
    assert first["maintenance_events"] == 782 + 661 + 150 + 300
    assert first["weld_images"] == 15
    # one per turbofan, machine and bearing; the weld cell is inspected instead
    assert first["predictions"] == 20 + 20 + (10 if SHIPPED_BEARING_STUDENT.is_file() else 0)
    assert any("RUL model" in line for line in lines)
    assert any("machine 24 h failure-risk model (fit)" in line and "promoted rotating_machine-class v" in line
               for line in lines)
    with db.session() as s:
        machines = s.scalars(select(ModelVersion.kind).where(ModelVersion.name == "rotating_machine-class")).all()
    assert sorted(machines) == ["gbm", "moe"]  # fitted on one split, the best on validation promoted
    with db.session() as s:
        rul = s.execute(select(Prediction.rul_lower, Prediction.rul_mean, Prediction.rul_upper)
                        .where(Prediction.rul_mean.is_not(None))).all()
        risk = s.execute(select(Prediction.fault_probs, Prediction.top_fault).join(Asset, Asset.id == Prediction.asset_id)
                         .where(Asset.asset_type == "rotating_machine")).all()
    assert len(rul) == 20 and all(lo <= mid <= hi for lo, mid, hi in rul)  # the turbofans
    # the machines: which component fails within 24 h (or normal), a distribution over the fitted classes
    assert len(risk) == 20
    assert all(set(probs) == {"comp1", "comp2", "comp3", "comp4", "normal"} for probs, _ in risk)
    assert all(abs(sum(probs.values()) - 1) < 1e-3 and top in probs for probs, top in risk)
    if SHIPPED_BEARING_STUDENT.is_file():
        with db.session() as s:
            bearings = s.execute(select(Asset.name, Prediction.top_fault, Prediction.routing, ModelVersion.name)
                                 .join(Prediction, Prediction.asset_id == Asset.id)
                                 .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
                                 .where(Asset.asset_type == "bearing")).all()
        assert {model for *_, model in bearings} == {"plantpulse-bearing-student"}
        # the asset name carries the recording's fault (cwru-bearing-105-inner-race-0007)
        named = sum(top is not None and name.endswith(top.replace("_", "-").replace(".", ""))
                    for name, top, _, _ in bearings)
        assert len(bearings) == 10 and named >= 9
        assert all(routing for _, _, routing, _ in bearings)  # modality and expert shares shown on the asset page
    run_demo(settings, echo=lines.append)
    assert _counts(db) == first


def _models(db: Database) -> list[tuple[str, str, str]]:
    with db.session() as s:
        return [tuple(r) for r in s.execute(select(ModelVersion.name, ModelVersion.kind, ModelVersion.stage))]


def test_shipped_student_is_registered_and_promoted(tmp_path: Path) -> None:
    if not SHIPPED_STUDENT.is_file():
        pytest.skip("no shipped student checkpoint in model/shipped/")
    settings = load_settings(env={}, home=str(tmp_path / "home"))
    db = Database(settings.db_url)
    prepare_database(db)
    assert ensure_rul_model(settings, db, SAMPLE) == "plantpulse-student"
    assert _models(db) == [("plantpulse-student", "student", "production")]
    assert ensure_rul_model(settings, db, SAMPLE) == "plantpulse-student"  # once only
    assert len(_models(db)) == 1


def test_a_corrupted_shipped_student_is_an_error_not_a_silent_fallback(tmp_path: Path) -> None:
    bad = tmp_path / "student.safetensors"
    bad.write_bytes(b"not a checkpoint")
    settings = load_settings(env={}, home=str(tmp_path / "home"))
    db = Database(settings.db_url)
    prepare_database(db)
    with pytest.raises(CheckpointError, match="corrupted"):
        ensure_rul_model(settings, db, SAMPLE, shipped=bad)
    assert _models(db) == []


@pytest.mark.slow
def test_without_a_shipped_student_the_sample_baseline_is_trained(tmp_path: Path) -> None:
    settings = load_settings(env={}, home=str(tmp_path / "home"))
    db = Database(settings.db_url)
    prepare_database(db)
    assert ensure_rul_model(settings, db, SAMPLE, shipped=tmp_path / "missing.safetensors") == "rul-baseline"
    assert _models(db) == [("rul-baseline", "baseline", "production")]


def test_the_shipped_bearing_model_is_registered_once_and_a_missing_one_is_said(tmp_path: Path) -> None:
    settings = load_settings(env={}, home=str(tmp_path / "home"))
    db = Database(settings.db_url)
    prepare_database(db)
    assert ensure_bearing_model(db, shipped=tmp_path / "missing.safetensors").startswith("skipped: no missing")
    assert _models(db) == []
    if not SHIPPED_BEARING_STUDENT.is_file():
        pytest.skip("no shipped bearing student in model/shipped/")
    assert "plantpulse-bearing-student (the shipped MoE student" in ensure_bearing_model(db)
    assert "already in production" in ensure_bearing_model(db)
    assert _models(db) == [("plantpulse-bearing-student", "student", "production")]
