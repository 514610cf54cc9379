"""``plantpulse fit`` on a public dataset brought in as a plant's own files: the Azure predictive-
maintenance telemetry (20 machines, hourly) and its failure log, through the ingest connectors.

Recorded figures (2 CPU cores, seed 0, window 24 h, stride 6 h, RUL capped at 168 h, 6 machines
held out): held-out RMSE gbm 40.7 h, MoE 43.2 h, predicting the training mean 42.1 h; about 18 s.
The tolerance: the promoted model is within 5 % of the constant predictor or better — hourly
telemetry says little about a failure days ahead, and the test keeps the pipeline honest about it.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlalchemy import select

from plantpulse.connectors.logs.connector import LogOptions
from plantpulse.connectors.sensors.options import SensorOptions
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import ModelVersion
from plantpulse.pipelines.fit.job import run_fit
from plantpulse.pipelines.fit.spec import FitSpec
from plantpulse.pipelines.ingest.entry import ingest_log_file, ingest_sensor_file


@pytest.mark.slow
@pytest.mark.real_data
def test_rul_from_the_azure_failure_log(datasets_dir: Path, tmp_path: Path) -> None:
    folder = datasets_dir / "azure_pdm"
    db = Database(f"sqlite:///{tmp_path / 'plant.db'}")
    db.upgrade()
    ingest_sensor_file(db, folder / "PdM_telemetry_subset.csv", create_assets=True, asset_type="machine",
                       options=SensorOptions(asset_column="machineID", asset_template="machine-{:03d}"))
    ingest_log_file(db, folder / "PdM_failures.csv", options=LogOptions(
        format="generic", columns=("ts", "asset", "code"), kind="failure", asset_template="machine-{:03d}"))
    spec = FitSpec(asset_type="machine", target="rul", failure_kind="failure", rul_cap=168, window=24, stride=6,
                   epochs=3)
    result = run_fit(spec, db, tmp_path / "models", tmp_path / "report", echo=lambda _: None, show_progress=False)
    assert result.info["rul_unit"] == "hours"
    assert len(result.info["test_assets"]) == 6
    for metrics in result.metrics.values():
        assert math.isfinite(metrics["rmse"]) and math.isfinite(metrics["concordance"])
    best = result.metrics[result.winner]["rmse"]
    assert best <= 1.05 * result.info["constant_rmse"]
    with db.session() as s:
        assert {v.stage for v in s.scalars(select(ModelVersion))} == {"production", "candidate"}
    db.dispose()
