"""Maintenance logs as plants export them: compressed, without a header, without an asset or time
column (refused unless allowed), and the same narrative written for two jobs (two events)."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from plantpulse.connectors.logs.connector import LogConnector, LogOptions
from plantpulse.data.core.errors import ConfigError, InputDataError
from plantpulse.data.core.records import MaintenanceRecord, Rejection

LOG = "Date,Equipment,Description\n2024-01-01T08:00:00Z,p1,Replaced filter\n2024-01-02T08:00:00Z,p1,Seal leak\n"


def _read(path: Path, **options: object) -> tuple[list[MaintenanceRecord], list[Rejection]]:
    items = list(LogConnector(LogOptions(**options)).read(path))
    return [i for i in items if isinstance(i, MaintenanceRecord)], [i for i in items if isinstance(i, Rejection)]


def _write(tmp_path: Path, data: str | bytes, name: str = "wo.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _zip(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(("name", "data"), [
    ("wo.csv.gz", gzip.compress(LOG.encode())),
    ("wo.zip", _zip("export/wo.csv", LOG.encode())),
    ("wo.csv", gzip.compress(LOG.encode())),
    ("wo.json.gz", gzip.compress(b'[{"Date": "2024-01-01T08:00:00Z", "Equipment": "p1", "Description": "Replaced filter"},'
                                 b' {"Date": "2024-01-02T08:00:00Z", "Equipment": "p1", "Description": "Seal leak"}]')),
], ids=["gzip", "zip", "gzip-named-csv", "json-gzip"])
def test_compressed_exports_read_like_the_plain_file(tmp_path: Path, name: str, data: bytes) -> None:
    records, rejections = _read(_write(tmp_path, data, name))
    assert not rejections
    assert [(r.asset, r.text, r.ts.isoformat()) for r in records] == [
        ("p1", "Replaced filter", "2024-01-01T08:00:00+00:00"), ("p1", "Seal leak", "2024-01-02T08:00:00+00:00")]


def test_a_workbook_is_named_not_read_as_text(tmp_path: Path) -> None:
    path = _write(tmp_path, _zip("xl/workbook.xml", b"<x/>"), "wo.csv")
    with pytest.raises(InputDataError, match=r"Excel workbook \(.xlsx\).*save the sheet as CSV"):
        _read(path)


def test_a_headerless_log_reads_with_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "2024-01-01T08:00:00Z,p1,Replaced filter\n2024-01-02T08:00:00Z,p1\n")
    records, rejections = _read(path, columns=("ts", "asset", "text"))
    assert [(r.line, r.asset, r.text) for r in records] == [(1, "p1", "Replaced filter")]
    assert [(r.line, r.code) for r in rejections] == [(2, "field_count")]


def test_a_headerless_log_without_columns_is_told_to_name_them(tmp_path: Path) -> None:
    path = _write(tmp_path, "2024-01-01T08:00:00Z,p1,Replaced filter\n2024-01-02T08:00:00Z,p1,Seal leak\n")
    with pytest.raises(ConfigError, match=r"is data, not a header.*--columns ts,asset,text"):
        _read(path)


@pytest.mark.parametrize(("text", "flag"), [
    ("Date,Description\n2024-01-01,Replaced filter\n", "--allow-no-asset"),
    ("Equipment,Description\np1,Replaced filter\n", "--allow-no-time"),
], ids=["no-asset", "no-time"])
def test_a_mapping_without_asset_or_time_is_refused_unless_allowed(tmp_path: Path, text: str, flag: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"wo.csv: no column gives the .* Map it with --map .*=COLUMN, or pass {flag}"):
        _read(path)
    allowed = {"allow_no_asset": True} if flag == "--allow-no-asset" else {"allow_no_time": True}
    records, _ = _read(path, **allowed)
    assert [r.text for r in records] == ["Replaced filter"]


def test_presets_that_hold_no_asset_or_time_are_not_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "IDENT,PROBLEM,ACTION\n1,ENGINE ROUGH,CHECKED\n")
    records, _ = _read(path)
    assert [(r.external_id, r.asset, r.ts) for r in records] == [("1", None, None)]


def test_identical_narratives_of_different_jobs_are_different_events(tmp_path: Path) -> None:
    text = "Date,Equipment,Description\n" + "2024-01-01,p1,Replaced filter\n" * 3
    first, _ = _read(_write(tmp_path, text))
    ids = [r.external_id for r in first]
    assert len(set(ids)) == 3 and ids[1] == ids[0] + "#2" and ids[2] == ids[0] + "#3"
    again, _ = _read(_write(tmp_path, text, "again.csv"))
    assert [r.external_id for r in again] == ids  # stable, so a re-sent export still matches one to one
