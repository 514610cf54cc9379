"""The upload form offers the CLI's reading options and previews the first rows as parsed
before anything is stored (AppTest)."""

from __future__ import annotations

import gzip

import pytest
from pages import run_page
from sqlalchemy import func, select

from plantpulse.app import uploads
from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import Asset, IngestBatch, MaintenanceEvent, SensorReading

HEADERLESS = b"0,7,61.5\n0.5,7,61.7\n1.0,7,oops\n"


def _count(url: str, table, *where) -> int:
    with Database(url).session() as session:
        return int(session.scalar(select(func.count()).select_from(table).where(*where)))


def _errors(at) -> str:
    return " ".join(e.value for e in at.error)


def test_the_preview_shows_parsed_rows_and_nothing_is_stored_until_ingest(plant) -> None:
    before = _count(plant.url, SensorReading)
    at = run_page("data")
    at.file_uploader(key="upload-sensors").set_value(("rig.csv.gz", gzip.compress(HEADERLESS), "application/gzip")).run()
    assert "is data, not a header" in _errors(at) and "--columns" in _errors(at)
    assert "no timestamp column" not in _errors(at)
    at.text_input(key="read-columns-sensors").set_value("t,rig,temp").run()
    at.text_input(key="read-time-column").set_value("t").run()
    at.text_input(key="read-asset-column").set_value("rig").run()
    at.text_input(key="read-template-sensors").set_value("rig-{:03d}").run()
    at.text_input(key="read-epoch").set_value("2024-05-01T00:00:00Z").run()
    assert not at.exception and not _errors(at), _errors(at)
    preview = at.dataframe[0].value
    assert list(preview["asset"]) == ["rig-007", "rig-007"] and list(preview["temp"]) == [61.5, 61.7]
    assert [t.isoformat() for t in preview["time"]] == ["2024-05-01T00:00:00+00:00", "2024-05-01T00:00:00.500000+00:00"]
    refused = at.dataframe[1].value
    assert list(refused["line"]) == [3] and list(refused["code"]) == ["not_numeric"]
    assert _count(plant.url, SensorReading) == before  # a preview stores nothing
    at.checkbox(key="create-sensors").check().run()
    at.button(key="upload-go").click().run()
    assert not at.exception, at.exception
    assert _count(plant.url, SensorReading) == before + 2
    assert _count(plant.url, Asset, Asset.name == "rig-007") == 1


def test_a_log_upload_takes_a_column_mapping(plant) -> None:
    before = _count(plant.url, MaintenanceEvent)
    at = run_page("data")
    at.button_group(key="upload-kind").set_value("logs").run()
    data = b"When,Machine,What\n2015-03-01T06:00:00Z,azure-machine-001,Bearing noise\n"
    at.file_uploader(key="upload-logs").set_value(("cmms.csv", data, "text/csv")).run()
    assert "--map text=COLUMN" in _errors(at)  # What/Machine/When are not names it knows
    at.text_area(key="read-log-map").set_value("ts=When\nasset=Machine\ntext=What").run()
    assert not _errors(at), _errors(at)
    assert list(at.dataframe[0].value["asset"]) == ["azure-machine-001"]
    at.button(key="upload-go").click().run()
    assert _count(plant.url, MaintenanceEvent) == before + 1


def _send(data: bytes, *checked: str):
    at = run_page("data")
    at.file_uploader(key="upload-sensors").set_value(("fix.csv", data, "text/csv")).run()
    for key in checked:
        at.checkbox(key=key).check().run()
    at.button(key="upload-go").click().run()
    assert not at.exception, at.exception
    return at


def test_replace_in_the_form_reads_an_uploaded_file_again(plant) -> None:
    data = b"asset,timestamp,temp\nnew-pump,2015-05-01T00:00:00Z,20\n"
    _send(data)  # new-pump is not registered: the row is quarantined, nothing stored
    at = _send(data, "create-sensors")  # the same bytes again: not blocked
    assert "1 values stored" in " ".join(e.value for e in at.success)
    at = _send(data, "create-sensors")
    assert "already ingested" in " ".join(e.value for e in at.info)
    at = _send(data, "replace-sensors")
    assert "1 values stored" in " ".join(e.value for e in at.success)
    with Database(plant.url).session() as s:
        batches = s.execute(select(IngestBatch.id, IngestBatch.rows_loaded)
                            .where(IngestBatch.source == "fix.csv", IngestBatch.status == "committed")).all()
    assert len(batches) == 1 and batches[0].rows_loaded == 1
    assert _count(plant.url, SensorReading, SensorReading.batch_id == batches[0].id) == 1


@pytest.mark.parametrize("name", ["a.csv.gz", "a.zip", "a.mat", "a.mat.gz", "A.CSV"])
def test_the_new_file_kinds_are_accepted(name: str) -> None:
    uploads.check_extension(name, "sensors")


def test_form_fields_become_the_cli_options() -> None:
    settings = load_settings()
    options = uploads.sensor_options(settings, uploads.ReadOptions(
        columns="t, rig ,temp", epoch="2024-05-01T00:00:00Z", epoch_unit="ms", asset_pattern=r"_(\d+)",
        asset_template="rig-{}", mat_vars="*_DE_time=de\n*_FE_time=fe", rate_hz=12000))
    assert options.columns == ("t", "rig", "temp") and options.epoch_unit == "ms"
    assert options.epoch.isoformat() == "2024-05-01T00:00:00+00:00" and options.rate_hz == 12000
    assert dict(options.mat_vars) == {"*_DE_time": "de", "*_FE_time": "fe"}
    logs = uploads.log_options(settings, uploads.ReadOptions(mapping="ts=When; asset=Machine", allow_no_time=True))
    assert logs.mapping == {"ts": "When", "asset": "Machine"} and logs.allow_no_time
