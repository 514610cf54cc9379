"""A fit is a leased job: its ``job_runs`` row shows the stage while it runs, the report and both
versions when done, the error when it fails; a second fit of the same name is refused."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fit_support import TINY
from sqlalchemy import select

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import JobRun, ModelVersion
from plantpulse.pipelines.fit import service
from plantpulse.pipelines.fit.spec import FitSpec, load_spec, spec_toml
from plantpulse.pipelines.runtime.leases import JobBusyError, start_run


def _run(db: Database, tmp_path: Path, **fields: Any):
    spec = FitSpec(**{**TINY, **fields})
    return service.run_fit_job(spec, db, tmp_path / "models", tmp_path / "report", lease_s=60, heartbeat_s=30,
                               echo=lambda _: None, show_progress=False, trigger="test")


def _rows(db: Database) -> list[JobRun]:
    with db.session() as session:
        return list(session.scalars(select(JobRun).order_by(JobRun.id)))


def test_a_fit_records_its_stages_and_result(plant: Database, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str | None, str]] = []
    real = service.update_details

    def spy(db: Database, lease: Any, details: dict[str, Any]) -> None:
        real(db, lease, details)
        with db.session() as session:  # what a page reading the row at that moment would see
            row = session.get(JobRun, lease.run_id)
            seen.append((row.details["stage"], row.details["step"], row.status))

    monkeypatch.setattr(service, "update_details", spy)
    result = _run(plant, tmp_path, target="rul", failure_kind="failure", epochs=2)
    assert seen == [("reading windows", None, "running"), ("training baseline", None, "running"),
                    ("training survival", None, "running"), ("training moe", None, "running"), ("training moe", "epoch 1 of 2", "running"),
                    ("training moe", "epoch 2 of 2", "running"), ("evaluating", None, "running"),
                    ("writing report", None, "running")]
    (row,) = _rows(plant)
    assert (row.job, row.status, row.error) == ("fit:pump-rul", "succeeded", None)
    details = row.details
    assert details["stage"] == "done" and details["trigger"] == "test" and details["lease_until"] is None
    assert Path(details["report"]) == result.report.resolve() and Path(details["report_json"]).is_file()
    assert details["winner"] == result.winner and details["promoted"] == result.promoted
    with plant.session() as session:
        stored = {v.kind: (v.id, f"{v.name} v{v.version}") for v in session.scalars(select(ModelVersion))}
    assert {k: (v["id"], v["label"]) for k, v in details["versions"].items()} == stored
    report = json.loads(Path(details["report_json"]).read_text(encoding="utf-8"))
    (plot,) = report["plots"]
    assert (result.report.parent / plot["file"]).stat().st_size > 0
    assert f"]({plot['file']})" in result.report.read_text(encoding="utf-8")


def test_a_second_fit_of_the_same_name_is_refused(plant: Database, tmp_path: Path) -> None:
    start_run(plant, "fit:pump-rul", lease_s=60, details={"stage": "training moe"})
    with pytest.raises(JobBusyError, match=r"Job 'fit:pump-rul' is already running .* Wait for it"):
        _run(plant, tmp_path, target="rul", failure_kind="failure")
    assert [r.status for r in _rows(plant)] == ["running"]


def test_a_failed_fit_records_its_error_and_stage(plant: Database, tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="No asset of type 'fan'"):
        _run(plant, tmp_path, asset_type="fan", target="anomaly", normal_fraction=0.3)
    (row,) = _rows(plant)
    assert (row.job, row.status) == ("fit:fan-anomaly", "failed")
    assert row.error.startswith("InputDataError: No asset of type 'fan'")
    assert row.details["stage"] == "reading windows"


@pytest.mark.parametrize("fields", [
    dict(target="anomaly", normal_start=datetime(2024, 1, 1), normal_end=datetime(2024, 1, 2, 3, 4),
         channels=("vib", 'quote"d'), rul_cap=1.5),
    dict(target="class", event_codes=True, codes=("W1", "E7"), horizon_hours=12.5, normal_class="ok"),
    dict(target="rul", threshold="vib >= 2.5", backbone="shipped", unfreeze=True),
], ids=["anomaly-dates", "class-codes", "rul-threshold"])
def test_a_spec_written_as_toml_reads_back_equal(tmp_path: Path, fields: dict[str, Any]) -> None:
    spec = FitSpec(**{**TINY, **fields})
    path = tmp_path / "spec.toml"
    path.write_text(spec_toml(spec), encoding="utf-8")
    assert load_spec(path, {}) == spec


def test_a_relative_label_file_in_a_written_spec_is_next_to_it(tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_text(spec_toml(FitSpec(**TINY, target="class", label_file=Path("labels.csv"))), encoding="utf-8")
    assert load_spec(path, {}).label_file == tmp_path / "labels.csv"
