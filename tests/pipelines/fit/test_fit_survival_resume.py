"""``plantpulse fit`` for RUL: the Weibull survival learner (censored windows kept, scored through
the ``weibull`` predictor kind), the winner chosen on validation, and ``--resume`` after a kill."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fit_support import latest_predictions, write_log, write_sensors
from sqlalchemy import select

from plantpulse.connectors.logs.connector import LogOptions
from plantpulse.data.core.errors import ConfigError
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import ModelVersion
from plantpulse.pipelines.fit import job
from plantpulse.pipelines.fit.job import run_fit
from plantpulse.pipelines.fit.metrics import best_on_validation
from plantpulse.pipelines.fit.spec import FitSpec
from plantpulse.pipelines.fit.state import STATE_FILE
from plantpulse.pipelines.ingest.entry import ingest_log_file, ingest_sensor_file

# seed 7 with one asset held out puts p5, the pump that never fails, among the training assets
SPEC: dict[str, Any] = dict(asset_type="pump", target="rul", failure_kind="failure", window=8, stride=2, epochs=3,
                            steps=2, batch_size=8, gbm_rounds=20, seed=7, holdout=0.2)
LOG = LogOptions(format="generic", mapping={"ts": "Date", "asset": "Equipment", "kind": "Kind", "code": "Code",
                                            "text": "Description"})


class Killed(Exception):
    """Stands in for the process being killed at a chosen point of the fit."""


@pytest.fixture
def plant(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'plant.db'}")
    db.upgrade()
    ingest_sensor_file(db, write_sensors(tmp_path), create_assets=True, asset_type="pump")
    ingest_log_file(db, write_log(tmp_path), options=LOG)
    yield db
    db.dispose()


def _kill_at(marker: str, seen: list[str]):
    def echo(line: str) -> None:
        seen.append(line)
        if line.startswith(marker):
            raise Killed(line)
    return echo


def test_the_survival_model_keeps_the_censored_pump_and_scores_through_its_kind(plant: Database,
                                                                                tmp_path: Path) -> None:
    result = run_fit(FitSpec(**{**SPEC, "epochs": 1}), plant, tmp_path / "m", tmp_path / "r",
                     echo=lambda _: None, show_progress=False)
    report = json.loads((tmp_path / "r" / "fit-report.json").read_text(encoding="utf-8"))
    assert result.info["censored_assets"] == ["p5"] and "p5" not in result.info["test_assets"]
    # the others fit only windows with a known (or beyond-the-cap) end of life; the survival model all of them
    fitted_rows = int(report["learners"]["weibull"].split(" training windows")[0].split("; ")[-1])
    assert fitted_rows == result.info["rows"]["train"] and result.info["censored_train_windows"] > 0
    assert np.isfinite(result.metrics["weibull"]["rmse"]) and np.isfinite(result.metrics["weibull"]["concordance"])
    predictions = latest_predictions(plant, "weibull", ["p1", "p5"], 8)
    assert len(predictions) == 2
    assert all(0 <= p.rul_lower <= p.rul_mean <= p.rul_upper <= result.info["rul_cap"] for p in predictions)


def test_the_winner_is_chosen_on_validation_not_on_test() -> None:
    metrics = {"gbm": {"rmse": 5.0, "val_rmse": 9.0}, "weibull": {"rmse": 9.0, "val_rmse": 4.0},
               "moe": {"rmse": 1.0, "val_rmse": float("nan")}}
    assert best_on_validation("rul", metrics) == ("weibull", True)
    assert best_on_validation("anomaly", {"gbm": {"auroc": 0.9}, "moe": {"auroc": 0.7}}) == ("gbm", False)


def test_resume_after_a_kill_in_moe_training_keeps_the_finished_learners(plant: Database, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    spec, models, out = FitSpec(**SPEC), tmp_path / "m", tmp_path / "r"
    first: list[str] = []
    with pytest.raises(Killed):
        run_fit(spec, plant, models, out, echo=_kill_at("moe epoch 1/3", first), show_progress=False)
    state = json.loads((out / STATE_FILE).read_text(encoding="utf-8"))
    assert set(state["learners"]) == {"gbm", "weibull"} and not state["registered"]
    assert (out / "fit-moe.epoch.safetensors").is_file()

    def refit(*_: object, **__: object) -> None:
        raise AssertionError("a learner that finished before the kill was trained again")

    monkeypatch.setattr(job.learners, "fit_baseline", refit)
    monkeypatch.setattr(job, "fit_survival", refit)
    lines: list[str] = []
    result = run_fit(spec, plant, models, out, echo=lines.append, show_progress=False, resume=True)
    assert any("resuming after epoch 1 of 3" in line for line in lines)
    assert [line.split(":")[0] for line in lines if line.startswith("moe epoch")] == ["moe epoch 2/3", "moe epoch 3/3"]
    assert set(result.metrics) == {"gbm", "weibull", "moe"}
    with plant.session() as s:
        assert len(s.scalars(select(ModelVersion)).all()) == 3
    with pytest.raises(ConfigError, match="nothing to resume"):
        run_fit(spec, plant, models, out, echo=lambda _: None, show_progress=False, resume=True)


def test_resume_refuses_another_spec_or_changed_data(plant: Database, tmp_path: Path) -> None:
    spec, out = FitSpec(**SPEC), tmp_path / "r"
    with pytest.raises(Killed):
        run_fit(spec, plant, tmp_path / "m", out, echo=_kill_at("training survival", []), show_progress=False)
    with pytest.raises(ConfigError, match=r"spec differs .*\['gbm_rounds'\].*without --resume"):
        run_fit(FitSpec(**{**SPEC, "gbm_rounds": 30}), plant, tmp_path / "m", out, echo=lambda _: None,
                show_progress=False, resume=True)
    extra = tmp_path / "p6.csv"
    extra.write_text("asset,timestamp,vib,temp,state\n" + "".join(
        f"p6,2024-02-01T{h:02d}:00:00Z,1.0,50.0,0\n" for h in range(20)), encoding="utf-8")
    ingest_sensor_file(plant, extra, create_assets=True, asset_type="pump")
    with pytest.raises(ConfigError, match="data of asset type 'pump' changed"):
        run_fit(spec, plant, tmp_path / "m", out, echo=lambda _: None, show_progress=False, resume=True)
    with pytest.raises(ConfigError, match="no readable fit state"):
        run_fit(spec, plant, tmp_path / "m", tmp_path / "elsewhere", echo=lambda _: None, show_progress=False,
                resume=True)
