"""Correcting an ingest: a fully quarantined batch never blocks a re-run, ``replace`` reads a file
again in one transaction, and ``delete_batch`` removes a batch with what it stored, or refuses
with the reason (both engines)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from plantpulse.connectors.logs.connector import LogOptions
from plantpulse.connectors.sensors.options import ChannelLimit, SensorOptions
from plantpulse.data.core.errors import PlantPulseError
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import (
    IngestBatch,
    MaintenanceEvent,
    ModelVersion,
    QuarantinedRow,
    SensorReading,
    WeldImage,
    WeldInspection,
)
from plantpulse.pipelines.ingest.entry import (
    BatchInUseError,
    BatchNotFoundError,
    IngestFailedError,
    delete_batch,
    describe,
    ingest_image_upload,
    ingest_log_file,
    ingest_sensor_file,
)

TWO_ASSETS = "asset,timestamp,temp\nm1,2024-01-01T00:00:00Z,1\nm2,2024-01-01T00:00:00Z,250\n"


def _count(db: Database, table, *where) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(table).where(*where)))


def _write(tmp_path: Path, text: str, name: str = "line.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_fully_quarantined_batch_does_not_block_the_corrected_rerun(database: Database, tmp_path: Path) -> None:
    path = _write(tmp_path, TWO_ASSETS)
    first = ingest_sensor_file(database, path)  # m1, m2 are not registered: every row quarantined
    assert (first.status, first.loaded, first.quarantined) == ("committed", 0, 2)
    again = ingest_sensor_file(database, path, create_assets=True)  # same bytes, corrected options
    assert (again.status, again.loaded, again.quarantined) == ("committed", 2, 0)
    assert again.summary["replaced"]["batch_id"] == first.batch_id and again.batch_id != first.batch_id
    assert _count(database, IngestBatch, IngestBatch.id == first.batch_id) == 0
    assert _count(database, QuarantinedRow) == 0
    assert "replaces batch" in describe(again)


def test_a_batch_that_stored_something_still_makes_the_same_file_a_no_op(database: Database, tmp_path: Path) -> None:
    path = _write(tmp_path, TWO_ASSETS)
    first = ingest_sensor_file(database, path, create_assets=True)
    again = ingest_sensor_file(database, path, create_assets=True)
    assert again.status == "skipped" and again.batch_id == first.batch_id
    assert "pass --replace" in again.message


def test_replace_reads_the_same_file_again_with_new_options(database: Database, tmp_path: Path) -> None:
    path = _write(tmp_path, TWO_ASSETS)
    limited = SensorOptions(limits={"temp": ChannelLimit(0, 100)})
    first = ingest_sensor_file(database, path, options=limited, create_assets=True)
    assert (first.loaded, first.quarantined) == (1, 1)
    again = ingest_sensor_file(database, path, create_assets=True, replace=True)
    assert (again.status, again.loaded, again.duplicates, again.quarantined) == ("committed", 2, 0, 0)
    assert again.summary["replaced"]["readings"] == 1 and again.summary["replaced"]["quarantined"] == 1
    assert _count(database, SensorReading) == 2
    assert _count(database, SensorReading, SensorReading.batch_id == again.batch_id) == 2


def test_replace_with_changed_content_replaces_the_batch_of_the_same_file_name(database: Database, tmp_path: Path) -> None:
    path = _write(tmp_path, TWO_ASSETS)
    ingest_sensor_file(database, path, create_assets=True)
    path.write_text("asset,timestamp,temp\nm1,2024-01-01T00:00:00Z,1\n", encoding="utf-8")  # m2 was a mistake
    again = ingest_sensor_file(database, path, replace=True)
    assert (again.loaded, again.summary["replaced"]["readings"]) == (1, 2)
    assert _count(database, SensorReading) == 1


def test_a_failed_replacement_keeps_the_earlier_batch(database: Database, tmp_path: Path) -> None:
    path = _write(tmp_path, TWO_ASSETS)
    first = ingest_sensor_file(database, path, create_assets=True)
    with pytest.raises(IngestFailedError, match="no column 'when'"):
        ingest_sensor_file(database, path, options=SensorOptions(time_column="when"), replace=True)
    assert _count(database, IngestBatch, IngestBatch.id == first.batch_id, IngestBatch.status == "committed") == 1
    assert _count(database, SensorReading, SensorReading.batch_id == first.batch_id) == 2


def test_delete_batch_removes_what_it_stored_and_says_so(database: Database, tmp_path: Path) -> None:
    kept = ingest_sensor_file(database, _write(tmp_path, "asset,timestamp,temp\nm1,2023-01-01T00:00:00Z,5\n", "old.csv"),
                              create_assets=True)
    sensors = ingest_sensor_file(database, _write(tmp_path, TWO_ASSETS), create_assets=True,
                                 options=SensorOptions(limits={"temp": ChannelLimit(0, 100)}))
    logs = ingest_log_file(database, _write(tmp_path, "ts,asset,text\n2024-01-01T00:00:00Z,m1,leak\n", "wo.csv"))
    removed = delete_batch(database, sensors.batch_id)
    assert (removed.readings, removed.quarantined) == (1, 1)
    assert "removed batch" in removed.describe() and "1 readings" in removed.describe()
    assert _count(database, SensorReading) == 1 and _count(database, SensorReading, SensorReading.batch_id == kept.batch_id) == 1
    assert delete_batch(database, logs.batch_id).events == 1
    assert _count(database, MaintenanceEvent) == 0 and _count(database, IngestBatch) == 1


def test_delete_of_an_unknown_batch_says_how_to_find_one(database: Database) -> None:
    with pytest.raises(BatchNotFoundError, match="no ingest batch 42; `plantpulse db batches` lists them"):
        delete_batch(database, 42)


def test_delete_is_refused_when_a_later_batch_relied_on_its_rows(database: Database, tmp_path: Path) -> None:
    first = ingest_sensor_file(database, _write(tmp_path, TWO_ASSETS), create_assets=True)
    later = ingest_sensor_file(database, _write(tmp_path, TWO_ASSETS.replace("250", "250\nm1,2024-01-01T01:00:00Z,2"),
                                                "resent.csv"))
    assert later.duplicates == 2
    with pytest.raises(BatchInUseError, match=rf"skipped 2 rows.*delete {later.batch_id}\)"):
        delete_batch(database, first.batch_id)
    with pytest.raises(BatchInUseError, match="cannot replace batch"):
        ingest_sensor_file(database, tmp_path / "line.csv", replace=True)
    assert _count(database, SensorReading) == 3  # nothing was removed
    delete_batch(database, later.batch_id)
    assert delete_batch(database, first.batch_id).readings == 2


def test_delete_is_refused_for_images_a_model_inspected(database: Database, tmp_path: Path) -> None:
    folder = tmp_path / "welds"
    folder.mkdir()
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(folder / "a.png")
    result = ingest_image_upload(database, folder, image_store=tmp_path / "store")
    with database.session() as s:
        model = ModelVersion(name="weld", version=1, kind="yolo", path="x")
        s.add(model)
        s.flush()
        image_id = s.scalar(select(WeldImage.id))
        s.add(WeldInspection(image_id=image_id, model_version_id=model.id, verdict="accept", reject_score=0.1,
                             threshold=0.5))
    with pytest.raises(BatchInUseError, match="1 of its images have model inspections"):
        delete_batch(database, result.batch_id)
    assert _count(database, WeldImage) == 1


def test_replace_of_an_ambiguous_file_name_is_refused(database: Database, tmp_path: Path) -> None:
    path = _write(tmp_path, "ts,asset,text\n2024-01-01T00:00:00Z,m1,leak\n", "export.csv")
    options = LogOptions(allow_no_asset=True)
    ingest_log_file(database, path, options=options, create_assets=True)
    path.write_text("ts,asset,text\n2024-02-01T00:00:00Z,m1,noise\n", encoding="utf-8")
    ingest_log_file(database, path, options=options, create_assets=True)
    path.write_text("ts,asset,text\n2024-03-01T00:00:00Z,m1,wear\n", encoding="utf-8")
    with pytest.raises(PlantPulseError, match=r"cannot tell which earlier batch to replace: batches \d+, \d+ all came"):
        ingest_log_file(database, path, options=options, replace=True)
