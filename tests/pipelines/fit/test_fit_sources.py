"""``plantpulse fit`` end to end on synthetic plant data, one test per label source: CSV readings
and a maintenance log go in through the ingest entry point, fit trains the gradient-boosting (or
isolation-forest) baseline and the MoE, reports both on held-out assets, registers both and
promotes the better."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fit_support import (
    BURST,
    RATE_HZ,
    TINY,
    latest_predictions,
    write_end_times,
    write_label_file,
    write_sensors,
    write_snapshots,
)
from sqlalchemy import select

from plantpulse.data.core.errors import ConfigError, InputDataError
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import ModelVersion
from plantpulse.pipelines.fit.job import run_fit
from plantpulse.pipelines.fit.spec import FitSpec, load_spec
from plantpulse.pipelines.ingest.entry import ingest_sensor_file
from plantpulse.pipelines.models.registry import served_types

HEADLINE = {"rul": "rmse", "class": "macro_f1", "anomaly": "auroc"}


def _fit(db: Database, tmp_path: Path, **fields: Any):
    spec = FitSpec(**{**TINY, **fields})
    return run_fit(spec, db, tmp_path / "models", tmp_path / "report", echo=lambda _: None, show_progress=False)


def _check(db: Database, result, target: str) -> None:
    report = json.loads((result.report.parent / "fit-report.json").read_text(encoding="utf-8"))
    key = HEADLINE[target]
    assert set(report["metrics"]) == ({"gbm", "weibull", "moe"} if target == "rul" else {"gbm", "moe"})
    for values in report["metrics"].values():
        assert math.isfinite(values[key])
    assert "## Held-out metrics" in result.report.read_text(encoding="utf-8")
    with db.session() as s:
        rows = s.scalars(select(ModelVersion).where(ModelVersion.name == f"pump-{target}")).all()
        stages = {r.kind: r.stage for r in rows}
        assert {r.config["asset_type"] for r in rows} == {"pump"}
        assert all(r.config["channels"] for r in rows)
        assert {served_types(r) for r in rows} == {("pump",)}  # what `models list` shows and scoring checks
    assert stages[result.winner] == "production"
    assert sorted(stages.values()) == ["candidate"] * (len(stages) - 1) + ["production"]
    # the winner is the best on the validation assets; the test metrics are only reported
    values = {k: v.get(f"val_{key}") for k, v in report["metrics"].items()}
    ranked = [v for v in values.values() if v is not None]
    if ranked:
        assert values[result.winner] == (min(ranked) if target == "rul" else max(ranked))
    else:
        assert result.winner == "gbm" and "validation" in " ".join(report["notes"])


def test_rul_from_failure_events_keeps_the_censored_pump(plant: Database, tmp_path: Path) -> None:
    result = _fit(plant, tmp_path, target="rul", failure_kind="failure", holdout=0.4)
    _check(plant, result, "rul")
    assert result.info["censored_assets"] == ["p5"]
    assert result.info["rul_unit"] == "hours"
    assert math.isfinite(result.metrics["moe"]["coverage80"])


def test_rul_from_a_threshold_rule(plant: Database, tmp_path: Path) -> None:
    result = _fit(plant, tmp_path, target="rul", threshold="vib >= 2.6", channels=("temp",))
    _check(plant, result, "rul")
    assert "vib" in result.info["channels"]


def test_rul_from_explicit_end_times(plant: Database, tmp_path: Path) -> None:
    result = _fit(plant, tmp_path, target="rul", end_times=write_end_times(tmp_path), rul_unit="cycles")
    _check(plant, result, "rul")
    assert result.info["rul_unit"] == "cycles"
    assert result.info["censored_assets"] == ["p5"]


def test_class_from_a_label_column(plant: Database, tmp_path: Path) -> None:
    result = _fit(plant, tmp_path, target="class", label_column="state")
    _check(plant, result, "class")
    assert result.info["classes"] == ["0", "1"]
    assert "state" not in result.info["channels"]


@pytest.mark.parametrize("ranges", [True, False], ids=["time-ranges", "per-asset"])
def test_class_from_a_label_file(plant: Database, tmp_path: Path, ranges: bool) -> None:
    result = _fit(plant, tmp_path, target="class", label_file=write_label_file(tmp_path, ranges), holdout=0.4)
    _check(plant, result, "class")


def test_class_from_event_codes(plant: Database, tmp_path: Path) -> None:
    result = _fit(plant, tmp_path, target="class", event_codes=True, codes=("W1", "E7"), horizon_hours=10)
    _check(plant, result, "class")
    assert set(result.info["classes"]) <= {"E7", "W1", "normal"}


def test_anomaly_from_a_normal_period(plant: Database, tmp_path: Path) -> None:
    result = _fit(plant, tmp_path, target="anomaly", normal_fraction=0.3)
    _check(plant, result, "anomaly")
    assert math.isfinite(result.metrics["moe"]["threshold"])


def test_no_promote_registers_both_as_candidates(plant: Database, tmp_path: Path) -> None:
    spec = FitSpec(**TINY, target="class", label_column="state")
    result = run_fit(spec, plant, tmp_path / "m", tmp_path / "r", promote=False, echo=lambda _: None,
                     show_progress=False)
    assert result.promoted is None
    with plant.session() as s:
        assert {r.stage for r in s.scalars(select(ModelVersion))} == {"candidate"}


def test_cli_fits_from_a_spec_file(plant: Database, tmp_path: Path) -> None:
    from plantpulse.pipelines.cli.main import cli

    spec = tmp_path / "pump.toml"
    spec.write_text('asset_type = "pump"\ntarget = "rul"\nfailure_kind = "failure"\nwindow = 8\nstride = 2\n'
                    'epochs = 1\nsteps = 2\ngbm_rounds = 20\n', encoding="utf-8")
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "--db", plant.url, "fit", "--spec", str(spec),
                                      "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "promoted pump-rul v" in result.output
    assert (out / "fit-report.md").is_file()


def test_a_spec_needs_exactly_one_label_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="exactly one label source"):
        load_spec(None, {"asset_type": "pump", "target": "rul", "failure_kind": "failure", "threshold": "vib >= 2"})
    after = load_spec(None, {"asset_type": "pump", "target": "anomaly", "normal_start": "2024-01-01T00:00:00Z"})
    assert after.source == "normal_dates"
    coded = {"asset_type": "pump", "target": "class", "event_codes": True, "failure_kind": "failure"}
    assert load_spec(None, coded).source == "event_codes"  # failure_kind narrows the coded events
    with pytest.raises(ConfigError, match="failure_kind outside target 'rul' needs"):
        load_spec(None, {**coded, "event_codes": False, "label_column": "state"})
    with pytest.raises(ConfigError, match="failure_code is a label source of target 'rul'"):
        load_spec(None, {**coded, "failure_code": "E7"})
    with pytest.raises(ConfigError, match="must look like 'channel >= 5.5'"):
        load_spec(None, {"asset_type": "pump", "target": "rul", "threshold": "vib > 2"})


def test_an_unknown_asset_type_names_the_ingest_command(plant: Database, tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="--asset-type filter"):
        _fit(plant, tmp_path, asset_type="filter", target="anomaly", normal_fraction=0.3)


def test_the_fitted_moe_scores_its_asset_type_through_the_predictor_registry(plant: Database, tmp_path: Path) -> None:
    result = _fit(plant, tmp_path, target="rul", failure_kind="failure")
    (prediction,) = latest_predictions(plant, "moe", ["p5"], 8)
    assert prediction.rul_mean is not None and 0 <= prediction.rul_mean <= result.info["rul_cap"]


def test_a_new_adapter_on_the_shipped_frozen_backbone(plant: Database, tmp_path: Path) -> None:
    from plantpulse.data.core.resources import shipped_dir
    from plantpulse.model.moe.checkpoint import load_checkpoint

    result = _fit(plant, tmp_path, target="class", label_column="state", backbone="shipped")
    _check(plant, result, "class")
    report = json.loads((result.report.parent / "fit-report.json").read_text(encoding="utf-8"))
    assert "frozen" in report["learners"]["moe"]
    shipped, _ = load_checkpoint(shipped_dir() / "plantpulse-backbone.safetensors")
    fitted, _ = load_checkpoint(report["files"]["moe"])
    assert "fault:pump" in [t.name for t in fitted.cfg.tasks]
    backbone = [n for n, _ in shipped.named_parameters() if not n.startswith("decoder.")]
    assert backbone
    trained = dict(fitted.named_parameters())
    assert all(bool((trained[n] == p).all()) for n, p in shipped.named_parameters() if n in backbone)


@pytest.mark.parametrize("target", ["rul", "class", "anomaly"])
def test_the_fitted_baseline_scores_through_the_gbm_predictor_kind(plant: Database, tmp_path: Path,
                                                                   target: str) -> None:
    source: dict[str, Any] = {"rul": {"failure_kind": "failure"}, "class": {"label_column": "state"},
                              "anomaly": {"normal_fraction": 0.3}}[target]
    _fit(plant, tmp_path, target=target, **source)
    predictions = latest_predictions(plant, "gbm", ["p1", "p4"], 8)
    assert len(predictions) == 2
    if target == "rul":
        assert all(p.rul_lower <= p.rul_mean <= p.rul_upper for p in predictions)
    elif target == "anomaly":
        assert all(0 < p.anomaly_score <= 1 for p in predictions)
    else:
        assert all(p.fault_probs.keys() == {"0", "1"} for p in predictions)
        assert all(sum(p.fault_probs.values()) == pytest.approx(1.0) for p in predictions)
        # both pumps end worn (state 1): the baseline says so for their latest windows
        assert all(p.top_fault[0] == "1" for p in predictions)


def test_high_rate_snapshots_are_one_window_each_with_spectral_features(database: Database, tmp_path: Path) -> None:
    from plantpulse.data.store.repository import asset_ids, latest_windows
    from plantpulse.model.predictor import load_predictor

    readings, labels = write_snapshots(tmp_path)
    ingest_sensor_file(database, readings, create_assets=True, asset_type="bearing")
    spec = FitSpec(asset_type="bearing", target="class", label_file=labels, snapshots=True, window=BURST,
                   epochs=1, steps=2, batch_size=8, gbm_rounds=20)
    result = run_fit(spec, database, tmp_path / "models", tmp_path / "report", echo=lambda _: None,
                     show_progress=False)
    assert result.info["windows"] == 4 * 30  # one window per burst
    assert result.info["step_seconds"] == pytest.approx(1 / RATE_HZ)
    assert result.metrics["gbm"]["macro_f1"] == pytest.approx(1.0)  # the 180 Hz line separates the classes
    assert math.isfinite(result.metrics["moe"]["macro_f1"])
    with database.session() as s:
        rows = {v.kind: v for v in s.scalars(select(ModelVersion))}
        windows = latest_windows(s, list(asset_ids(s, ["b1"]).values()), BURST)
    assert rows["moe"].config["normalizers"]["bearing"]["sample_rate_hz"] == pytest.approx(RATE_HZ)
    (latest,) = load_predictor("gbm", Path(rows["gbm"].path)).for_asset_type("bearing").predict(list(windows.values()))
    assert latest.top_fault[0] == "outer"


def test_a_single_asset_is_split_by_time(database: Database, tmp_path: Path) -> None:
    rows = write_sensors(tmp_path).read_text(encoding="utf-8").splitlines()
    solo = tmp_path / "solo.csv"
    solo.write_text("\n".join([rows[0], *[r for r in rows[1:] if r.startswith("p4,")]]) + "\n", encoding="utf-8")
    ingest_sensor_file(database, solo, create_assets=True, asset_type="pump")
    result = _fit(database, tmp_path, target="anomaly", normal_fraction=0.5, channels=("vib", "temp"), stride=1)
    assert result.info["split"] == "time"
    assert result.info["test_assets"] == ["p4"]
    assert all(math.isfinite(m["auroc"]) for m in result.metrics.values())


def test_unfreeze_fine_tunes_the_shipped_backbone_too(plant: Database, tmp_path: Path) -> None:
    from plantpulse.data.core.resources import shipped_dir
    from plantpulse.model.moe.checkpoint import load_checkpoint

    result = _fit(plant, tmp_path, target="class", label_column="state", backbone="shipped", unfreeze=True)
    report = json.loads((result.report.parent / "fit-report.json").read_text(encoding="utf-8"))
    assert "fine-tuned" in report["learners"]["moe"]
    shipped, _ = load_checkpoint(shipped_dir() / "plantpulse-backbone.safetensors")
    fitted = dict(load_checkpoint(report["files"]["moe"])[0].named_parameters())
    changed = [n for n, p in shipped.named_parameters() if not n.startswith("decoder.") and not (fitted[n] == p).all()]
    assert changed


def test_anomaly_from_normal_dates(plant: Database, tmp_path: Path) -> None:
    from fit_support import START

    result = _fit(plant, tmp_path, target="anomaly", normal_start=START.isoformat(),
                  normal_end=(START + timedelta(hours=30)).isoformat())
    _check(plant, result, "anomaly")
    assert result.spec.source == "normal_dates"
