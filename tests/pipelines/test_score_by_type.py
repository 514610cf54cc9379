"""Scoring per asset type: each asset's type gets the production model that serves it; assets of a
type no model serves are listed with the reason; a model never scores a type it was not trained on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scoring_support import add_readings, register_fixed
from sqlalchemy import select

from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.core.errors import ConfigError
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import promote_model_version, register_model_version
from plantpulse.data.store.schema import Asset, ModelVersion, Prediction
from plantpulse.pipelines.cli.main import main
from plantpulse.pipelines.score.job import ScoreRequest, run_scoring


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'plant.db'}")
    database.upgrade()
    yield database
    database.dispose()


def settings_for(tmp_path: Path):
    return load_settings(env={}, home=str(tmp_path / "home"))


def fixed_for(db: Database, folder: Path, name: str, asset_types: list[str], promote: bool = True) -> int:
    """A ``test-fixed`` model version recorded as serving ``asset_types``."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"rul_scale": 1.0}))
    with db.session() as s:
        version = register_model_version(s, name=name, kind="test-fixed", path=str(path),
                                         config={"serves": {"asset_types": asset_types, "channels": {}}})
        if promote:
            promote_model_version(s, version.id)
        return version.id


def plant(db: Database) -> None:
    for i in range(2):
        add_readings(db, f"pump-{i}", np.linspace(30, 20, 8))
        add_readings(db, f"filter-{i}", np.linspace(30, 20, 8), asset_type="filter")


def scored_by(db: Database) -> dict[str, str]:
    with db.session() as s:
        rows = s.execute(select(Asset.name, ModelVersion.name).join(Prediction, Prediction.asset_id == Asset.id)
                         .join(ModelVersion, ModelVersion.id == Prediction.model_version_id))
        return dict(rows.all())


def test_each_asset_type_is_scored_by_its_own_production_model(db: Database, tmp_path: Path) -> None:
    plant(db)
    fixed_for(db, tmp_path, "pumps", ["pump"])
    fixed_for(db, tmp_path, "filters", ["filter"])
    fixed_for(db, tmp_path, "filters-next", ["filter"], promote=False)  # a candidate never scores
    result = run_scoring(settings_for(tmp_path), db, ScoreRequest())
    assert (result.considered, result.predictions, result.skipped) == (4, 4, ())
    assert scored_by(db) == {"pump-0": "pumps", "pump-1": "pumps", "filter-0": "filters", "filter-1": "filters"}


def test_assets_of_a_type_without_a_model_are_listed_with_the_reason(db: Database, tmp_path: Path) -> None:
    plant(db)
    register_fixed(db, tmp_path, name="pumps")  # nothing recorded: the predictor's own types (pump)
    result = run_scoring(settings_for(tmp_path), db, ScoreRequest())
    assert (result.considered, result.predictions) == (4, 2)
    assert [name for name, _ in result.skipped] == ["filter-0", "filter-1"]
    assert result.skipped[0][1].startswith("no model trained for asset type 'filter' — run plantpulse fit")
    assert set(scored_by(db)) == {"pump-0", "pump-1"}


def test_a_candidate_for_the_type_is_named_in_the_reason(db: Database, tmp_path: Path) -> None:
    plant(db)
    fixed_for(db, tmp_path, "filters", ["filter"], promote=False)
    result = run_scoring(settings_for(tmp_path), db, ScoreRequest(assets=("filter-0",)))
    assert result.skipped == (("filter-0", "no promoted model for asset type 'filter': filters v1 serves it as a "
                                           "candidate — run plantpulse models promote filters"),)


def test_a_model_is_refused_for_an_asset_type_it_was_not_trained_on(db: Database, tmp_path: Path) -> None:
    plant(db)
    register_fixed(db, tmp_path, name="rul-baseline")
    with pytest.raises(ConfigError, match=r"Model rul-baseline v1 was not trained for asset type 'filter' "
                                          r"\(filter-0 \(filter\)\); it serves 'pump'"):
        run_scoring(settings_for(tmp_path), db, ScoreRequest("rul-baseline", assets=("filter-0",), force=True))
    with pytest.raises(ConfigError, match=r"Unknown asset\(s\): nowhere"):
        run_scoring(settings_for(tmp_path), db, ScoreRequest("rul-baseline", assets=("nowhere",)))
    assert scored_by(db) == {}


def test_the_recorded_types_bound_a_model_even_when_named(db: Database, tmp_path: Path) -> None:
    plant(db)
    fixed_for(db, tmp_path, "filters", ["filter"])  # the predictor itself says pump; the record says filter
    result = run_scoring(settings_for(tmp_path), db, ScoreRequest("filters"))
    assert set(scored_by(db)) == {"filter-0", "filter-1"} and result.considered == 2


def test_score_command_never_says_0_of_0(db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_readings(db, "filter-0", np.linspace(30, 20, 8), asset_type="filter")
    code = main(["--db", db.url, "--home", str(tmp_path / "home"), "score"])
    out = capsys.readouterr().out
    assert code == 0
    assert "scored 0 of 1 assets with no model" in out
    assert "not scored: filter-0: no model trained for asset type 'filter' — run plantpulse fit" in out


def test_weld_detectors_are_passed_over_and_a_broken_model_is_the_reason(db: Database, tmp_path: Path) -> None:
    plant(db)
    with db.session() as s:
        promote_model_version(s, register_model_version(s, name="weld-yolo", kind="yolo", path="none").id)
    register_fixed(db, tmp_path, name="pumps")
    fixed_for(db, tmp_path, "filters", ["filter"])
    (tmp_path / "filters.json").unlink()
    result = run_scoring(settings_for(tmp_path), db, ScoreRequest())
    assert set(scored_by(db)) == {"pump-0", "pump-1"}
    assert [name for name, _ in result.skipped] == ["filter-0", "filter-1"]
    assert result.skipped[0][1].startswith("its production model filters v1 cannot be loaded: Model filters v1: "
                                           "checkpoint")


def test_of_two_production_models_for_one_type_the_last_promoted_scores(db: Database, tmp_path: Path) -> None:
    plant(db)
    first = fixed_for(db, tmp_path, "pumps-a", ["pump"])
    fixed_for(db, tmp_path, "pumps-b", ["pump"])
    run_scoring(settings_for(tmp_path), db, ScoreRequest(assets=("pump-0",)))
    with db.session() as s:
        promote_model_version(s, first)  # promoted again: now the newest promotion
    run_scoring(settings_for(tmp_path), db, ScoreRequest(assets=("pump-1",)))
    assert scored_by(db) == {"pump-0": "pumps-b", "pump-1": "pumps-a"}
