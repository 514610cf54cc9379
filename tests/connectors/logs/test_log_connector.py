"""The logs connector: Azure PdM tables, MaintNet text, generic CSV/JSON mappings, bad rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plantpulse.connectors.logs.connector import LogConnector, LogOptions
from plantpulse.data.core.errors import ConfigError, InputDataError
from plantpulse.data.core.records import MaintenanceRecord, Rejection

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample" / "logs"


def _read(path: Path, **options: object) -> tuple[list[MaintenanceRecord], list[Rejection]]:
    """Read a log; small generic files here often lack an asset or time column, which is allowed."""
    options = {"allow_no_asset": True, "allow_no_time": True, **options}
    items = list(LogConnector(LogOptions(**options)).read(path))
    return [i for i in items if isinstance(i, MaintenanceRecord)], [i for i in items if isinstance(i, Rejection)]


@pytest.mark.parametrize(
    ("name", "count", "kind", "field", "first"),
    [("PdM_errors.csv", 782, "error", "code", "error1"),
     ("PdM_maint.csv", 661, "maintenance", "component", "comp2"),
     ("PdM_failures.csv", 150, "failure", "component", "comp4")],
    ids=["errors", "maint", "failures"],
)
def test_azure_tables(name: str, count: int, kind: str, field: str, first: str) -> None:
    records, rejected = _read(SAMPLE / name)
    assert len(records) == count and not rejected
    head = records[0]
    assert (head.kind, getattr(head, field), head.asset, head.line) == (kind, first, "azure-machine-001", 1)
    assert head.ts.tzinfo is not None and head.source.startswith("azure_pdm.")
    assert len({r.external_id for r in records}) == count  # content hashes tell rows apart


def test_maintnet_text_is_verbatim() -> None:
    records, _ = _read(SAMPLE / "maintnet_aviation_sample.csv")
    assert len(records) == 300 and records[0].external_id == "100001" and records[0].line == 2
    assert records[0].text == "ENGINE IDLE OVERRIDE KILLED ENGINE."
    assert records[0].action == "TRIED TO ADJUST IDLE SEVERAL TIMES, WOULDN'T ADJUST."


def test_generic_csv_with_mapping_keeps_text_exactly(tmp_path: Path) -> None:
    path = tmp_path / "cmms.csv"
    path.write_text('WO,Date,Equipment,Description,Fix\n'
                    '17,2024-01-02T08:00:00Z,press-1,"  Leak at seal,\nsee photo  ",replaced seal\n'
                    '18,not a date,press-1,x,y\n'
                    ',2024-01-02T09:00:00Z,press-1,x,y\n', encoding="utf-8")
    records, rejected = _read(path, mapping={"external_id": "WO", "ts": "Date", "asset": "Equipment",
                                             "text": "Description", "action": "Fix"}, source="sap")
    [record] = records
    assert record.text == "  Leak at seal,\nsee photo  " and record.action == "replaced seal"
    assert (record.source, record.external_id, record.asset, record.line) == ("sap", "17", "press-1", 2)
    assert record.ts == datetime(2024, 1, 2, 8, tzinfo=UTC)
    assert [(r.line, r.code) for r in rejected] == [(4, "bad_timestamp"), (5, "missing_id")]


def test_generic_names_are_recognised_and_ids_hashed(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("timestamp,machine,problem,resolution\n2024-01-02 08:00,m1,noise,greased\n", encoding="utf-8")
    [record], _ = _read(path, timezone="Europe/Berlin")
    assert record.ts == datetime(2024, 1, 2, 7, tzinfo=UTC) and record.text == "noise"
    again, _ = _read(path, timezone="Europe/Berlin")
    assert record.external_id.startswith("sha256:") and again[0].external_id == record.external_id


@pytest.mark.parametrize("suffix", [".json", ".jsonl"], ids=["json", "jsonl"])
def test_json_exports(tmp_path: Path, suffix: str) -> None:
    items = [{"id": 1, "text": "a", "asset": "m1"}, {"id": 2, "text": "b", "extra": {"x": 1}}, [1, 2]]
    path = tmp_path / f"log{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps({"records": items}), encoding="utf-8")
    else:
        path.write_text("\n".join(json.dumps(i) for i in items) + "\n{broken\n", encoding="utf-8")
    records, rejected = _read(path)
    assert [(r.external_id, r.text, r.asset) for r in records] == [("1", "a", "m1"), ("2", "b", None)]
    assert [r.code for r in rejected] == ["json_syntax"] * (1 if suffix == ".json" else 2)


@pytest.mark.parametrize(
    ("content", "options", "error", "match"),
    [("2015-01-01 06:00:00,1,comp2\n", {}, ConfigError, "say which with --format"),
     ("a,b\n1,2\n", {}, ConfigError, "No column holds the event text"),
     ("a,b\n1,2\n", {"mapping": {"colour": "a"}}, ConfigError, "Unknown log field"),
     ("a,b\n1,2\n", {"mapping": {"text": "c"}}, ConfigError, "no such column")],
    ids=["azure-ambiguous", "no-text", "bad-field", "bad-column"],
)
def test_unusable_layouts_fail_clearly(tmp_path: Path, content: str, options: dict, error: type, match: str) -> None:
    path = tmp_path / "export.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(error, match=match):
        _read(path, **options)


def test_unknown_format_and_missing_file() -> None:
    with pytest.raises(ConfigError, match="Unknown log format 'sap'"):
        LogOptions(format="sap")
    with pytest.raises(InputDataError, match="no such file"):
        list(LogConnector().read(Path("/nonexistent/x.csv")))
