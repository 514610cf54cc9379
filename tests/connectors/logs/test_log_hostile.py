"""Log exports built to break the reader: unclosed quotes, huge free text, byte-order marks,
NUL bytes and lone surrogates, CR-only line breaks. Valid rows come out unchanged; only the
broken record is rejected, with its line or record number."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from plantpulse.connectors.logs.connector import LogConnector, LogOptions
from plantpulse.data.core.errors import ConfigError, InputDataError
from plantpulse.data.core.records import MaintenanceRecord, Rejection


def _read(path: Path, **options: object) -> tuple[list[MaintenanceRecord], list[Rejection]]:
    """Read a log; small generic files here often lack an asset or time column, which is allowed."""
    options = {"allow_no_asset": True, "allow_no_time": True, **options}
    items = list(LogConnector(LogOptions(**options)).read(path))
    return [i for i in items if isinstance(i, MaintenanceRecord)], [i for i in items if isinstance(i, Rejection)]


def _write(tmp_path: Path, data: bytes | str, name: str = "wo.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_an_unclosed_quote_is_not_merged_into_the_next_events(tmp_path: Path) -> None:
    path = _write(tmp_path, 'id,asset,text\n1,m1,"leak at seal\n2,m1,noise\n3,m1,"hot"\n4,m1,ok\n')
    records, rejected = _read(path)
    assert [(r.external_id, r.text, r.line) for r in records] == [("2", "noise", 3), ("3", "hot", 4), ("4", "ok", 5)]
    assert [(r.line, r.code, r.raw) for r in rejected] == [(2, "unclosed_quote", '1,m1,"leak at seal')]


def test_text_longer_than_the_csv_module_default_is_stored_verbatim(tmp_path: Path) -> None:
    text = "pump " * 40_000  # 200,000 characters, over csv's default field limit of 131,072
    path = _write(tmp_path, f'id,text\n1,"{text}"\n2,ok\n')
    records, rejected = _read(path)
    assert [(r.external_id, r.text) for r in records] == [("1", text), ("2", "ok")] and not rejected
    records, rejected = _read(path, max_field_chars=100_000)
    assert [r.external_id for r in records] == ["2"]
    assert [(r.line, r.code) for r in rejected] == [(2, "too_long")] and "ingest.max_field_chars" in rejected[0].reason


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_a_byte_order_mark_picks_the_encoding(tmp_path: Path, codec: str) -> None:
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(codec, b"")
    path = _write(tmp_path, bom + "Work Order,Description\n7,Lager überhitzt\n".encode(codec))
    records, rejected = _read(path)
    assert [(r.external_id, r.text) for r in records] == [("7", "Lager überhitzt")] and not rejected


def test_utf16_without_a_byte_order_mark_names_the_fix(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,text\n1,leak\n".encode("utf-16-le"))
    with pytest.raises(InputDataError, match="UTF-16.*--encoding utf-16-le"):
        _read(path)


def test_a_byte_order_mark_that_contradicts_the_encoding_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,text\n1,leak\n".encode("utf-16"))
    with pytest.raises(ConfigError, match="UTF-16LE byte-order mark.*latin-1"):
        _read(path, encoding="latin-1")


@pytest.mark.parametrize(("payload", "code"), [(b'"a\\u0000b"', "nul_byte"), (b'"a\\udc80b"', "encoding")],
                         ids=["nul", "lone-surrogate"])
def test_json_records_with_unstorable_text_are_rejected_with_their_number(tmp_path: Path, payload: bytes,
                                                                          code: str) -> None:
    path = _write(tmp_path, b'[{"id": "1", "text": "ok"}, {"id": "2", "text": ' + payload + b'}, {"id": "3", "text": "x"}]',
                  name="wo.json")
    records, rejected = _read(path)
    assert [r.external_id for r in records] == ["1", "3"]
    assert [(r.line, r.column, r.code) for r in rejected] == [(2, "text", code)]


def test_invalid_utf8_in_json_is_rejected_not_replaced(tmp_path: Path) -> None:
    path = _write(tmp_path, b'[{"id": "1", "text": "ok"}, {"id": "2", "text": "caf\xe9"}]', name="wo.json")
    records, rejected = _read(path)
    assert [r.external_id for r in records] == ["1"] and [(r.line, r.code) for r in rejected] == [(2, "encoding")]


def test_cr_only_line_breaks_are_read_as_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,asset,text\r1,m1,leak\r2,m1,noise\r")
    records, rejected = _read(path)
    assert [(r.external_id, r.text, r.line) for r in records] == [("1", "leak", 2), ("2", "noise", 3)] and not rejected
