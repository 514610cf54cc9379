"""Ingest of maintenance logs, weld images and the asset registry (both engines)."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from plantpulse.connectors.logs.connector import LogOptions
from plantpulse.data.core.errors import InputDataError, UploadRejectedError
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import (
    Asset,
    IngestBatch,
    MaintenanceEvent,
    QuarantinedRow,
    WeldImage,
    WeldLabel,
)
from plantpulse.pipelines.ingest.entry import (
    IngestFailedError,
    ingest_image_upload,
    ingest_log_file,
    load_asset_registry,
)

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def _count(db: Database, table) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(table))


@pytest.fixture
def registered(database: Database) -> Database:
    assert load_asset_registry(database, SAMPLE / "assets.csv").loaded == 51
    return database


def test_sample_logs_load_once(registered: Database) -> None:
    for name, count in (("PdM_errors.csv", 782), ("PdM_maint.csv", 661), ("PdM_failures.csv", 150),
                        ("maintnet_aviation_sample.csv", 300)):
        result = ingest_log_file(registered, SAMPLE / "logs" / name)
        assert (result.loaded, result.quarantined) == (count, 0), name
        assert ingest_log_file(registered, SAMPLE / "logs" / name).status == "skipped"
    with registered.session() as s:
        kinds = dict(s.execute(select(MaintenanceEvent.kind, func.count()).group_by(MaintenanceEvent.kind)).all())
        event = s.scalar(select(MaintenanceEvent).where(MaintenanceEvent.external_id == "100004"))
    assert kinds == {"error": 782, "maintenance": 661, "failure": 150, "logbook": 300}
    assert event.text == "HAD ENGINE CHOKE & BRIEFLY LOSE POWER ON DEPARTURE. FULL THR"


def test_resent_events_are_duplicates_and_changed_ones_conflicts(registered: Database, tmp_path: Path) -> None:
    first = tmp_path / "wo-1.csv"
    first.write_text("id,asset,text\n1,azure-machine-001,leak\n2,azure-machine-002,noise\n", encoding="utf-8")
    second = tmp_path / "wo-2.csv"
    second.write_text("id,asset,text\n1,azure-machine-001,leak\n2,azure-machine-002,NOISE\n3,nobody,x\n", encoding="utf-8")
    options = LogOptions(source="cmms-a", allow_no_time=True)
    ingest_log_file(registered, first, options=options)
    result = ingest_log_file(registered, second, options=options)
    assert (result.loaded, result.duplicates, result.quarantined) == (0, 1, 2)
    with registered.session() as s:
        reasons = {q.line: q.reason for q in s.scalars(select(QuarantinedRow).where(QuarantinedRow.batch_id == result.batch_id))}
        stored = s.scalar(select(MaintenanceEvent.text).where(MaintenanceEvent.external_id == "2"))
    assert "different text" in reasons[3] and "not registered" in reasons[4] and stored == "noise"


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_weld_images_with_labels(registered: Database, tmp_path: Path) -> None:
    upload = tmp_path / "weld"
    shutil.copytree(SAMPLE / "weld", upload)
    (upload / "images" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    store = tmp_path / "store"
    result = ingest_image_upload(registered, upload, image_store=store, asset="weld-cell-01")
    assert (result.rows_total, result.loaded, result.quarantined) == (16, 15, 1)
    with registered.session() as s:
        images = s.scalars(select(WeldImage)).all()
        labels = s.scalars(select(WeldLabel)).all()
        cell = s.scalar(select(Asset.id).where(Asset.name == "weld-cell-01"))
    assert {i.asset_id for i in images} == {cell} and all((store / i.storage_path).is_file() for i in images)
    assert len(labels) == 15 and {lab.source for lab in labels} == {"import"}
    assert all(0 <= b["cx"] <= 1 for lab in labels for b in lab.boxes)
    archive = tmp_path / "again.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.png", _png(1))
        for path in sorted((SAMPLE / "weld" / "images").iterdir())[:2]:
            z.write(path, f"images/{path.name}")
    again = ingest_image_upload(registered, archive, image_store=store)
    assert (again.loaded, again.duplicates) == (1, 2)


def test_zip_bomb_is_refused(registered: Database, tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("images/big.png", b"\0" * 20_000_000)
    with pytest.raises(UploadRejectedError, match="zip bomb"):
        ingest_image_upload(registered, archive, image_store=tmp_path / "store")
    assert _count(registered, WeldImage) == 0


def test_unknown_asset_for_images_fails_the_batch(registered: Database, tmp_path: Path) -> None:
    with pytest.raises(IngestFailedError, match="'cell-9' is not registered"):
        ingest_image_upload(registered, SAMPLE / "weld", image_store=tmp_path / "s", asset="cell-9")
    with registered.session() as s:
        assert s.scalars(select(IngestBatch.status).order_by(IngestBatch.id.desc())).first() == "failed"


def test_asset_registry_updates_and_rejects(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "assets.csv"
    path.write_text("name,asset_type,site,line,model,serial\npump-1,pump,P1,L1,X,123\n"
                    "pump-2,pump,P1,L1,,\n,pump,P1,L1,,\npump-1,pump,P1,L1,X,123\npump-2,fan,P1,L1,,\n", encoding="utf-8")
    result = load_asset_registry(database, path)
    assert (result.loaded, result.duplicates, result.quarantined) == (2, 1, 2)
    path.write_text("name,asset_type,site\npump-1,pump,P2\n", encoding="utf-8")
    assert load_asset_registry(database, path).summary["assets_updated"] == 1
    with database.session() as s:
        pump = s.scalar(select(Asset).where(Asset.name == "pump-1"))
    assert (pump.site, pump.attributes) == ("P2", {})
    path.write_text("asset,kind\nx,y\n", encoding="utf-8")
    with pytest.raises(IngestFailedError, match="needs the columns name and asset_type"):
        load_asset_registry(database, path)


def test_missing_input(database: Database, tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="no such"):
        ingest_log_file(database, tmp_path / "nothing.csv")
