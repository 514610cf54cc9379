"""Ingest of hostile files on both engines: NUL bytes and lone surrogates are quarantined (stored
escaped) while the rest of the file loads; a non-empty file that yields nothing fails loudly."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from plantpulse.connectors.logs.connector import LogOptions
from plantpulse.data.core.records import Rejection
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import quarantine
from plantpulse.data.store.schema import IngestBatch, MaintenanceEvent, QuarantinedRow
from plantpulse.pipelines.ingest.entry import IngestFailedError, ingest_log_file, ingest_sensor_file

NO_ASSET_NO_TIME = LogOptions(allow_no_asset=True, allow_no_time=True)  # these logs only test text


def _events(db: Database) -> dict[str, str]:
    with db.session() as s:
        return dict(s.execute(select(MaintenanceEvent.external_id, MaintenanceEvent.text)).all())


def _quarantined(db: Database, batch: int) -> list[tuple[int | None, str]]:
    with db.session() as s:
        rows = s.execute(select(QuarantinedRow.line, QuarantinedRow.raw).where(QuarantinedRow.batch_id == batch)
                         .order_by(QuarantinedRow.line)).all()
    return [tuple(r) for r in rows]


def test_quarantine_stores_nul_and_lone_surrogates_escaped(database: Database) -> None:
    with database.session() as s:
        batch = IngestBatch(connector="logs", source="x.csv", content_sha256="0" * 64, status="committed")
        s.add(batch)
        s.flush()
        quarantine(s, batch.id, [Rejection("x\x00.csv", 1, "te\udc80xt", "bad \x00 \udc80", "a\x00b\udc80c", "nul_byte")])
        batch_id = batch.id
    with database.session() as s:
        row = s.scalar(select(QuarantinedRow).where(QuarantinedRow.batch_id == batch_id))
    assert (row.source, row.column, row.reason, row.raw) == ("x\\x00.csv", "te\\udc80xt", "bad \\x00 \\udc80", "a\\x00b\\udc80c")


def test_a_nul_byte_in_a_csv_log_costs_one_row(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "wo.csv"
    path.write_bytes(b"id,text\n1,leak\n2,bro\x00ken\n3,noise\n")
    result = ingest_log_file(database, path, options=NO_ASSET_NO_TIME)
    assert (result.loaded, result.quarantined) == (2, 1)
    assert _events(database) == {"1": "leak", "3": "noise"}
    assert _quarantined(database, result.batch_id) == [(3, "2,bro\\x00ken")]


@pytest.mark.parametrize("escape", ["\\u0000", "\\udc80"], ids=["nul", "lone-surrogate"])
def test_unstorable_json_text_costs_one_record(database: Database, tmp_path: Path, escape: str) -> None:
    payload = f'"bro{escape}ken"'.encode()
    path = tmp_path / "wo.json"
    path.write_bytes(b'[{"id": "1", "text": "leak"}, {"id": "2", "text": ' + payload + b'}, {"id": "3", "text": "noise"}]')
    result = ingest_log_file(database, path, options=NO_ASSET_NO_TIME)
    assert (result.loaded, result.quarantined) == (2, 1)
    assert _events(database) == {"1": "leak", "3": "noise"}
    [(line, raw)] = _quarantined(database, result.batch_id)
    assert line == 2 and f"bro{escape}ken" in raw


def test_a_header_only_sensor_file_fails_instead_of_storing_nothing(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("asset,timestamp,temp\n\n", encoding="utf-8")
    with pytest.raises(IngestFailedError, match="no data rows were found.*nothing was ingested"):
        ingest_sensor_file(database, path, create_assets=True)
    with database.session() as s:
        assert s.scalar(select(IngestBatch.status)) == "failed"


def test_an_empty_json_log_fails_instead_of_storing_nothing(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "wo.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(IngestFailedError, match="no records were found"):
        ingest_log_file(database, path)


def test_rows_of_only_empty_cells_are_not_a_failure(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("asset,timestamp,temp\nm1,2024-01-01T00:00:00Z,\n", encoding="utf-8")
    result = ingest_sensor_file(database, path, create_assets=True)
    assert (result.status, result.loaded, result.summary["empty_cells"]) == ("committed", 0, 1)


def test_the_field_limit_setting_reaches_the_cli_and_long_text_is_stored_verbatim(
        database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from plantpulse.pipelines.cli.main import main

    text = "bearing noise " * 15_000  # 210,000 characters, over the csv module's default of 131,072
    path = tmp_path / "wo.csv"
    path.write_text(f'id,text\n1,"{text}"\n2,ok\n', encoding="utf-8")
    for key in ("PLANTPULSE_CONFIG", "PLANTPULSE_DB_URL", "PLANTPULSE_HOME"):
        monkeypatch.delenv(key, raising=False)
    args = ["--home", str(tmp_path / "home"), "--db", database.url, "ingest", "logs", str(path), "--allow-no-asset",
            "--allow-no-time"]
    assert main(args) == 0, capsys.readouterr().err
    assert _events(database) == {"1": text, "2": "ok"}  # read back from the database, every character

    path.write_text(f'id,text\n3,"{text}"\n4,ok\n', encoding="utf-8")
    monkeypatch.setenv("PLANTPULSE_INGEST__MAX_FIELD_CHARS", "100000")
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "quarantined 1" in out and "too_long" in out
    assert set(_events(database)) == {"1", "2", "4"}
