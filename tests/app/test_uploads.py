"""Uploads on the Data page: good files load, bad rows are quarantined, bad files are refused
with a clear message, and the session survives all of it (AppTest)."""

from __future__ import annotations

import pytest
from pages import run_page, texts
from sqlalchemy import func, select

from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import QuarantinedRow, SensorReading

GOOD = (b"asset,timestamp,volt,vibration\n"
        b"azure-machine-001,2015-04-02T00:00:00Z,170.5,40.1\n"
        b"azure-machine-001,2015-04-02T01:00:00Z,171.0,41.3\n")
BAD_ROWS = (b"asset,timestamp,volt,vibration\n"
            b"azure-machine-002,2015-04-02T00:00:00Z,170.5,40.1\n"
            b"azure-machine-002,2015-04-02T01:00:00Z,n/a,41.3\n"
            b"azure-machine-002,not-a-time,171.0,41.3\n"
            b"no-such-asset,2015-04-02T02:00:00Z,171.0,41.3\n")


def upload(name: str, content: bytes, kind: str = "sensors"):
    at = run_page("data")
    if kind != "sensors":
        at.button_group(key="upload-kind").set_value(kind).run()
    at.file_uploader(key=f"upload-{kind}").set_value((name, content, "text/csv")).run()
    at.button(key="upload-go").click().run()
    assert not at.exception, at.exception
    return at


def _count(url: str, table) -> int:
    with Database(url).session() as session:
        return int(session.scalar(select(func.count()).select_from(table)))


def test_good_csv_loads(plant) -> None:
    before = _count(plant.url, SensorReading)
    at = upload("line-a.csv", GOOD)
    assert "4 values stored, 0 quarantined" in texts(at)
    assert _count(plant.url, SensorReading) == before + 4


def test_bad_rows_are_quarantined_and_downloadable(plant) -> None:
    before = _count(plant.url, QuarantinedRow)
    at = upload("line-b.csv", BAD_ROWS)
    shown = texts(at)
    assert "quarantined" in shown and "Why rows were quarantined" in shown
    assert _count(plant.url, QuarantinedRow) > before
    download = [d for d in at.get("download_button") if "quarantined rows" in d.proto.label]
    assert download, "no download button for the quarantined rows"


def test_same_file_twice_stores_nothing_new(plant) -> None:
    upload("line-a.csv", GOOD)
    at = upload("line-a.csv", GOOD)
    assert "already ingested" in " ".join(e.value for e in at.info)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("garbage.csv", bytes(range(256)) * 40, "garbage.csv"),
    ("empty.csv", b"", "empty.csv"),
], ids=["binary", "empty"])
def test_bad_file_gives_a_clear_message(plant, name: str, content: bytes, message: str) -> None:
    at = upload(name, content)
    errors = " ".join(e.value for e in at.error)
    assert message in errors, errors


def test_upload_over_the_size_limit_is_refused(plant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTPULSE_INGEST__MAX_UPLOAD_MB", "0.0001")
    at = upload("line-a.csv", GOOD * 10)
    assert "more than the upload limit of 0.0001 MB" in " ".join(e.value for e in at.error)


def test_extension_and_size_are_checked_before_ingest(plant) -> None:
    from plantpulse.app import uploads
    from plantpulse.data.core.config.settings import load_settings
    from plantpulse.data.core.errors import UploadRejectedError

    with pytest.raises(UploadRejectedError, match=r"readings.exe: a sensor readings upload must be a \.csv"):
        uploads.check_extension("readings.exe", "sensors")
    settings = load_settings(ingest={"max_upload_mb": 1})
    with pytest.raises(UploadRejectedError, match=r"big.csv: 2.0 MB is more than the upload limit of 1 MB"):
        uploads.check_size("big.csv", 2 * 1024 * 1024, settings)


def test_maintenance_log_upload(plant) -> None:
    from dashboard_seed import SAMPLE

    from plantpulse.data.store.schema import MaintenanceEvent

    before = _count(plant.url, MaintenanceEvent)
    at = upload("PdM_maint.csv", (SAMPLE / "logs" / "PdM_maint.csv").read_bytes(), kind="logs")
    shown = texts(at)
    assert "events stored" in shown, shown
    assert _count(plant.url, MaintenanceEvent) > before


def test_weld_image_zip_upload(plant) -> None:
    import io
    import zipfile

    from plantpulse.data.store.schema import WeldImage

    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as archive:
        archive.writestr("new-weld.png", _png())
        archive.writestr("notes.txt", "not an image")
    at = run_page("data")
    at.button_group(key="upload-kind").set_value("images").run()
    at.selectbox(key="upload-cell").set_value("weld-cell-01").run()
    at.file_uploader(key="upload-images").set_value(("welds.zip", payload.getvalue(), "application/zip")).run()
    at.button(key="upload-go").click().run()
    assert not at.exception, at.exception
    assert "1 images stored" in texts(at), texts(at)
    assert _count(plant.url, WeldImage) == 16


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 120, 120)).save(out, format="PNG")
    return out.getvalue()
