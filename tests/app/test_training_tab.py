"""The "Train a model" tab of Models & results (AppTest): the form writes a spec the fit CLI reads
and starts it detached; a run's stage shows while it runs; a finished run shows every learner and
promotes the other version; a viewer sees runs and results only."""

from __future__ import annotations

from pathlib import Path

import pytest
from dashboard_seed import seed_pumps
from pages import run_page, texts
from sqlalchemy import select

from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import ModelVersion
from plantpulse.pipelines.fit.service import run_fit_job
from plantpulse.pipelines.fit.spec import FitSpec, load_spec
from plantpulse.pipelines.runtime.leases import start_run


@pytest.fixture
def pumps(plant):
    db = Database(plant.url)
    seed_pumps(db)
    db.dispose()
    return plant


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict]]:
    from plantpulse.app import launch

    calls: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(launch.subprocess, "Popen", lambda args, **kw: calls.append((args, kw)))
    return calls


def _errors(at) -> str:
    return "\n".join(e.value for e in at.error)


def test_the_form_writes_the_spec_and_starts_the_fit(pumps, started) -> None:
    at = run_page("models")
    at.selectbox(key="fit-asset-type").set_value("pump").run()
    assert at.selectbox(key="fit-failure-kind").value == "failure"
    at.multiselect(key="fit-channels").set_value(["pump_vib"])
    at.number_input(key="fit-window").set_value(8)
    at.number_input(key="fit-epochs").set_value(1)
    at.button(key="fit-start").click().run()
    assert not at.exception, at.exception
    assert not _errors(at), _errors(at)
    (args, kwargs), = started
    spec_path, report = Path(args[args.index("--spec") + 1]), Path(args[args.index("--out") + 1])
    assert args[-7:-5] == ["plantpulse.pipelines.cli.main", "fit"] and args[-1] == "--quiet"
    assert spec_path.parent == report.parent and spec_path.parent.parent == pumps.home / "fits"
    assert spec_path.parent.name.startswith("pump-rul-") and kwargs["start_new_session"] is True
    assert kwargs["env"]["PLANTPULSE_DATABASE_URL"] == pumps.url
    assert load_spec(spec_path, {}) == FitSpec(asset_type="pump", target="rul", failure_kind="failure",
                                               channels=("pump_vib",), window=8, epochs=1)
    assert "Started training pump-rul (failure_events)" in texts(at)


def test_event_codes_are_the_failures_codes_by_default(pumps, started) -> None:
    at = run_page("models")
    at.selectbox(key="fit-asset-type").set_value("pump").run()
    at.selectbox(key="fit-target").set_value("class").run()
    at.radio(key="fit-source-class").set_value("event_codes").run()
    assert at.selectbox(key="fit-codes-kind").value == "failure"  # not the codes of other kinds of event
    at.button(key="fit-start").click().run()
    assert not at.exception, at.exception
    assert not _errors(at), _errors(at)
    (args, _), = started
    spec = load_spec(Path(args[args.index("--spec") + 1]), {})
    assert spec.event_codes and spec.failure_kind == "failure" and spec.source == "event_codes"


def test_a_wrong_spec_gets_the_clis_message_and_starts_nothing(pumps, started) -> None:
    at = run_page("models")
    at.selectbox(key="fit-target").set_value("anomaly").run()
    at.radio(key="fit-source-anomaly").set_value("normal_dates").run()
    at.button(key="fit-start").click().run()
    assert not at.exception, at.exception
    assert "Invalid training spec" in _errors(at) and "exactly one label source" in _errors(at)
    assert not started


def test_a_running_fit_shows_its_stage_and_blocks_a_second_start(pumps, started) -> None:
    start_run(Database(pumps.url), "fit:pump-rul", lease_s=60,
              details={"stage": "training moe", "step": "epoch 2 of 4", "label_source": "failure_events"})
    at = run_page("models")
    assert "training moe — epoch 2 of 4" in [p.proto.text for p in at.get("progress")]
    at.selectbox(key="fit-asset-type").set_value("pump").run()
    at.button(key="fit-start").click().run()
    assert "A fit of pump-rul is already running" in _errors(at) and not started


def test_a_finished_fit_compares_the_learners_and_promotes_another(pumps, tmp_path: Path) -> None:
    db = Database(pumps.url)
    spec = FitSpec(asset_type="pump", target="rul", failure_kind="failure", window=8, stride=2, epochs=1, steps=2,
                   gbm_rounds=20)
    result = run_fit_job(spec, db, tmp_path / "models", pumps.home / "fits" / "run" / "report", lease_s=60,
                         heartbeat_s=30, echo=lambda _: None, show_progress=False)
    other = next(kind for kind in result.versions if kind != result.winner)
    at = run_page("models")
    assert not at.exception, at.exception
    (table,) = [t.value for t in at.table]
    assert list(table.columns) == ["baseline (gbm)", "survival (Weibull AFT)", "MoE"] and table.index[0] == "rmse"
    assert [i for i in at.get("image") if "Predicted against true RUL" in str(i.proto)]
    label = result.versions[other]
    (button,) = [b for b in at.button if b.label.startswith(f"Promote {label}")]
    button.click().run()
    assert f"{label.split()[1]} in production" in texts(at)  # the Model versions tab was redrawn
    with db.session() as session:
        stage = session.scalar(select(ModelVersion.stage).where(ModelVersion.id == result.version_ids[other]))
    assert stage == "production"

    viewer = run_page("models", role="viewer")
    assert not viewer.exception, viewer.exception
    assert "Only engineers can start training" in texts(viewer)
    assert not [b for b in viewer.button if b.key == "fit-start" or b.label.startswith("Promote")]
    assert len(viewer.table) == 1
    db.dispose()


def test_a_second_start_before_the_fit_opens_its_row_is_refused(pumps, started) -> None:
    at = run_page("models")
    at.selectbox(key="fit-asset-type").set_value("pump").run()
    at.button(key="fit-start").click().run()
    at.button(key="fit-start").click().run()  # the fit process (mocked here) has not opened its job row
    assert len(started) == 1
    assert "is still starting" in _errors(at)


def test_a_started_fit_stops_blocking_once_it_reported_or_failed(tmp_path: Path) -> None:
    from plantpulse.app.launch import STARTING_S, _starting

    folder = tmp_path / "pump-rul-20261204T120000Z"
    folder.mkdir()
    assert _starting(tmp_path, "pump-rul") is not None
    assert _starting(tmp_path, "pump-class") is None  # another model name
    assert _starting(tmp_path, "pump-rul", now=folder.stat().st_mtime + STARTING_S + 1) is None
    (folder / "fit.log").write_text("error: No asset of type 'pump' in the database\n", encoding="utf-8")
    assert _starting(tmp_path, "pump-rul") is None
    (folder / "fit.log").write_text("training baseline ...\n", encoding="utf-8")
    (folder / "report").mkdir()
    (folder / "report" / "fit-report.json").write_text("{}", encoding="utf-8")
    assert _starting(tmp_path, "pump-rul") is None
