"""Reading log exports record by record with their line numbers: CSV (with or without a header),
JSON (a list of objects, or an object holding one) and JSON Lines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plantpulse.connectors.csv_records import DEFAULT_MAX_FIELD_CHARS, RecordReader
from plantpulse.connectors.line_breaks import scan_file
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import Rejection

_UNDECODABLE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One input record: its line, the header (names), its fields and its verbatim text."""

    line: int
    header: list[str]
    fields: list[str] | dict[str, str]
    raw: str

    def get(self, column: str | int) -> str | None:
        """The field in ``column`` (a name or an index); None when the row has no such column."""
        if isinstance(self.fields, dict):
            return self.fields.get(str(column), "")
        if isinstance(column, int):
            return self.fields[column] if column < len(self.fields) else None
        try:
            return self.fields[self.header.index(column)]
        except (ValueError, IndexError):
            return None


def first_line(path: Path, encoding: str) -> str:
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        for line in handle:
            if line.strip():
                return line.rstrip("\r\n")
    return ""


def _csv_records(path: Path, label: str, header: bool, encoding: str, max_field_chars: int,
                 given: list[str] | None = None) -> Iterator[RawRecord | Rejection]:
    newline = "\r" if scan_file(path).cr_only else "\n"
    with path.open(encoding=encoding, errors="surrogateescape", newline=newline) as handle:
        reader = RecordReader(handle, 1, max_field_chars=max_field_chars,
                              n_fields=len(given) if given else None)
        names: list[str] | None = list(given) if given else (None if header else [])
        for record in reader:
            raw, start, fields = record.text, record.line, record.fields
            if record.problem is not None:
                yield Rejection(label, start, None, record.problem[0], raw, record.problem[1])
                continue
            if record.blank:
                continue
            if _UNDECODABLE.search(raw):
                text = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                yield Rejection(label, start, None, f"not valid {encoding} text; pass --encoding", text, "encoding")
                continue
            if names is None:
                names = [f.strip().lstrip("\ufeff") for f in fields]
                reader.n_fields = len(names)
                continue
            if reader.n_fields is None:  # no header: the first row sets the width
                reader.n_fields = len(fields)
            if names and len(fields) != len(names):
                reason = f"expected {len(names)} fields, found {len(fields)}"
                yield Rejection(label, start, None, reason, raw, "field_count")
                continue
            yield RawRecord(start, names, fields, raw)


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _json_records(path: Path, label: str, encoding: str) -> Iterator[RawRecord | Rejection]:
    # Undecodable bytes become lone surrogates, so the record holding them is refused, not altered.
    text = path.read_text(encoding=encoding, errors="surrogateescape")
    if path.suffix.lower() == ".jsonl":
        items = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip()]
        decoded: list[tuple[int, Any]] = []
        for line, item in items:
            try:
                decoded.append((line, json.loads(item)))
            except json.JSONDecodeError as err:
                yield Rejection(label, line, None, f"not valid JSON ({err.msg})", item, "json_syntax")
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputDataError(f"{label}:{err.lineno}: not valid JSON ({err.msg}).") from err
        if isinstance(data, dict):
            lists = [v for v in data.values() if isinstance(v, list)]
            if len(lists) != 1:
                raise InputDataError(f"{label}: expected a list of records, or an object holding one list.")
            data = lists[0]
        if not isinstance(data, list):
            raise InputDataError(f"{label}: expected a list of records.")
        decoded = list(enumerate(data, start=1))
    for line, item in decoded:
        raw = json.dumps(item, ensure_ascii=False, default=str)
        if not isinstance(item, dict):
            yield Rejection(label, line, None, "record is not a JSON object", raw, "json_syntax")
            continue
        fields = {str(k): _scalar(v) for k, v in item.items()}
        yield RawRecord(line, list(fields), fields, raw)


def read_records(path: Path, label: str, header: bool, encoding: str,
                 max_field_chars: int = DEFAULT_MAX_FIELD_CHARS, names: list[str] | None = None
                 ) -> Iterator[RawRecord | Rejection]:
    """Records of a CSV or JSON export; unreadable ones come out as Rejections. CSV records are
    split by :class:`RecordReader` (an unclosed quote costs only its own record). ``names`` are
    the field names of a CSV without a header line."""
    if not path.is_file():
        raise InputDataError(f"{label}: no such file ({path}).")
    if path.suffix.lower() in (".json", ".jsonl"):
        if names:
            raise InputDataError(f"{label}: --columns names the fields of a CSV file; JSON records name their own.")
        return _json_records(path, label, encoding)
    return _csv_records(path, label, header, encoding, max_field_chars, names)
