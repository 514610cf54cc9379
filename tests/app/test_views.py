"""Every page on a database seeded from the real sample, and on an empty one (AppTest)."""

from __future__ import annotations

import pytest
from pages import buttons, run_page, texts
from sqlalchemy import select

from plantpulse.app.views import PAGES as VIEW_PAGES
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import Alert, ModelVersion

PAGES = tuple(key for key, _, _ in VIEW_PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_seeded_without_exception(plant, page: str) -> None:
    at = run_page(page)
    assert not at.exception, at.exception
    assert "Computed in" in texts(at)


@pytest.mark.parametrize(("page", "message"), [
    ("overview", "No assets yet"), ("asset", "No assets yet"), ("weld", "No weld inspections yet"),
    ("models", "No model versions"), ("jobs", "No job has run yet"),
], ids=lambda v: v if v in PAGES else None)
def test_page_on_empty_database_says_what_to_run(empty_plant, page: str, message: str) -> None:
    at = run_page(page)
    assert not at.exception, at.exception
    assert message in texts(at)


def test_overview_shows_fleet_state_and_alerts(plant) -> None:
    at = run_page("overview")
    shown = texts(at)
    assert "Critical 1" in shown and "Warning 1" in shown and "Assets 51" in shown
    assert "turbofan-fd001-test-020" in shown and "below the 30-cycle threshold" in shown
    fleet = at.dataframe[0].value
    assert len(fleet) == 51
    row = fleet.set_index("asset").loc["turbofan-fd001-test-020"]
    assert row["state"] == "▲ critical" and row["RUL"] == pytest.approx(16.0)
    assert row["80 % interval"] == "13–19 cycles"


def test_overview_filter_by_line(plant) -> None:
    at = run_page("overview")
    at.multiselect(key="overview-line").set_value(["Line A"]).run()
    assert set(at.dataframe[0].value["asset"]) == {f"azure-machine-{i:03d}" for i in range(1, 21)}


def test_engineer_acknowledges_an_alert(plant) -> None:
    at = run_page("overview")
    ack = buttons(at, "Acknowledge")
    assert len(ack) == 2
    ack[0].click().run()
    assert not at.exception
    with Database(plant.url).session() as session:
        statuses = dict(session.execute(select(Alert.id, Alert.status)).all())
        by = session.scalars(select(Alert.acknowledged_by).where(Alert.status == "acknowledged")).all()
    assert sorted(statuses.values()) == ["acknowledged", "open"] and by == ["Tess"]
    assert "acknowledged by Tess" in texts(at)
    assert len(buttons(at, "Acknowledge")) == 1


def test_viewer_cannot_acknowledge(plant) -> None:
    at = run_page("overview", role="viewer")
    assert not buttons(at, "Acknowledge")
    assert "below the 30-cycle threshold" in texts(at)


def test_asset_page_shows_prediction_and_history(plant) -> None:
    from pages import TIMEOUT_S, _page
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_page, args=("asset", "engineer"), default_timeout=TIMEOUT_S)
    at.query_params["asset"] = "azure-machine-001"
    at.run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Remaining useful life 504 h" in shown
    fault = next(m for m in at.metric if m.label == "Top fault")
    assert fault.value.endswith("%") and str(fault.delta).startswith("comp")  # the normal class is not a "top fault"
    assert "mean per 1 h" in shown
    assert at.multiselect(key=f"channels-{plant.seeded.assets['azure-machine-001']}").value


def test_models_page_promotes_and_rolls_back(plant) -> None:
    at = run_page("models")
    promote = [b for b in at.button if b.key == "promote-rul-baseline"]
    promote[0].click().run()
    assert not at.exception
    with Database(plant.url).session() as session:
        stage = session.scalar(select(ModelVersion.stage).where(ModelVersion.name == "rul-baseline"))
    assert stage == "production"
    assert "now the production version" in texts(at)


def test_viewer_sees_no_write_controls(plant) -> None:
    for page in ("models", "weld", "jobs"):
        at = run_page(page, role="viewer")
        assert not [b for b in at.button if b.label in ("Promote", "Review", "Run now")], page
    data = run_page("data", role="viewer")
    assert not data.get("file_uploader") and "Only engineers can upload" in texts(data)


def test_weld_page_gallery_and_p_chart(plant) -> None:
    at = run_page("weld")
    shown = texts(at)
    assert "Inspected 15" in shown and "Rejected 10" in shown
    assert len(buttons(at, "Review")) == 12  # one page of the gallery
    assert "Each point is one shift of weld-cell-01" in shown


def test_jobs_page_history_and_schedule(plant) -> None:
    at = run_page("jobs")
    shown = texts(at)
    assert "score failed" in shown and "database is locked" in at.dataframe[1].value["error"].tolist()
    schedule = at.dataframe[0].value.set_index("job")
    assert schedule.at["score", "schedule"] == "*/5 * * * * (cron, plant time)"
    assert schedule.at["ingest", "schedule"] == "not configured"
    assert "No scheduler is running" in " ".join(w.value for w in at.warning)
    assert [b.key for b in at.button if b.label == "Run now"] == ["run-score"]


def test_run_now_starts_the_job_process(plant, monkeypatch) -> None:
    from plantpulse.app import launch

    started = []
    monkeypatch.setattr(launch.subprocess, "Popen", lambda args, **kw: started.append((args, kw)))
    at = run_page("jobs")
    at.button(key="run-score").click().run()
    assert not at.exception
    (args, kwargs), = started
    assert args[-3:] == ["scheduler", "--once", "score"] and kwargs["start_new_session"] is True
    assert kwargs["env"]["PLANTPULSE_DATABASE_URL"] == plant.url
    assert "Started `plantpulse scheduler --once score`" in texts(at)


def test_engineer_reviews_a_weld_inspection(plant) -> None:
    from plantpulse.data.store.schema import WeldLabel

    at = run_page("weld")
    at.button(key=f"review-{15}").click().run()
    assert not at.exception, at.exception
    assert [b.label for b in at.button if b.label in ("Accept model result", "Save correction")] == [
        "Accept model result", "Save correction"]
    next(b for b in at.button if b.label == "Save correction").click().run()
    assert not at.exception, at.exception
    with Database(plant.url).session() as session:
        label = session.scalars(select(WeldLabel).where(WeldLabel.source == "review")).one()
    assert label.inspection_id == 15 and label.author == "Tess" and label.verdict == "reject"
    assert label.boxes and all(b["score"] is None for b in label.boxes)
    assert "Review of inspection 15 saved" in texts(at) and "Reviewed 1" in texts(at)


def test_server_preload_imports_every_view(plant) -> None:
    import sys

    from plantpulse.app.serve import preload

    assert preload() > 0
    assert all(f"plantpulse.app.views.{view}" in sys.modules for view in PAGES)


def test_bearings_scored_by_the_shipped_student_show_their_fault_and_routing(plant) -> None:
    """The sample's bearings, scored by the shipped MoE student as the demo does: the overview names
    each one's fault and the asset page draws the modality and expert shares of its prediction."""
    from pages import TIMEOUT_S, _page
    from streamlit.testing.v1 import AppTest

    from plantpulse.connectors.sensors.options import SensorOptions
    from plantpulse.data.core.config.settings import load_settings
    from plantpulse.data.core.resources import sample_dir
    from plantpulse.pipelines.cli.demo import BEARING_NAME, SHIPPED_BEARING_STUDENT, ensure_bearing_model
    from plantpulse.pipelines.ingest.entry import ingest_sensor_file
    from plantpulse.pipelines.score.job import request_from, run_scoring

    if not SHIPPED_BEARING_STUDENT.is_file():
        pytest.skip("no shipped bearing student in model/shipped/")
    settings, db = load_settings(), Database(plant.url)
    ingest_sensor_file(db, sample_dir() / "sensors" / "cwru_bearings_de_0hp.csv", options=SensorOptions(timezone="UTC"))
    ensure_bearing_model(db)
    assert run_scoring(settings, db, request_from(settings, model=BEARING_NAME)).predictions == 10
    db.dispose()

    fleet = run_page("overview").dataframe[0].value.set_index("asset")
    assert fleet.loc["cwru-bearing-105-inner-race-0007", "top fault"] == "inner_race_0.007"
    assert fleet.loc["cwru-bearing-234-outer-race-0021", "top fault"] == "outer_race_0.021"
    at = AppTest.from_function(_page, args=("asset", "engineer"), default_timeout=TIMEOUT_S)
    at.query_params["asset"] = "cwru-bearing-105-inner-race-0007"
    at.run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "What drove the latest prediction" in shown and "reports no routing" not in shown
