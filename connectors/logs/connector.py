"""The ``logs`` connector: CMMS-style CSV/JSON exports into :class:`MaintenanceRecord` s.

Free text is kept exactly as written (no trimming, no case changes). Every record gets a stable
external id: the id column when there is one, else a hash of the row's content, so re-ingesting
an export never duplicates events. Two rows of one file with the same content are two events
(the same narrative written for two jobs): the second gets ``#2`` after the hash, the third
``#3``, so re-ingesting or overlapping exports still match them one to one. Rows that cannot be
read are yielded as :class:`Rejection` s.

A generic mapping must say which column holds the asset and the time: without one the events
could never be tied to a machine or a moment, so the file is refused unless ``allow_no_asset`` /
``allow_no_time`` say that is intended. gzip files and one-file zips are unpacked first.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plantpulse.connectors.csv_records import DEFAULT_MAX_FIELD_CHARS
from plantpulse.connectors.headerless import headerless_message, looks_like_data
from plantpulse.connectors.logs.encoding import file_encoding
from plantpulse.connectors.logs.presets import FORMATS, PRESETS, Preset, detect, generic_columns
from plantpulse.connectors.logs.reader import RawRecord, first_line, read_records
from plantpulse.connectors.unpack import unpack
from plantpulse.data.core.errors import ConfigError, InputDataError
from plantpulse.data.core.records import MaintenanceRecord, Rejection

_SURROGATE = re.compile("[\ud800-\udfff]")
_EXAMPLE = ("ts", "asset", "text")
LIMITS = {"kind": 32, "code": 64, "component": 128, "external_id": 128, "asset": 128}


@dataclass(frozen=True, slots=True)
class LogOptions:
    """How to read a log export. ``format``: auto, a preset name, or generic (with ``mapping``
    field -> column). ``source`` names the system the log comes from (the dedupe namespace).
    ``encoding`` applies when the file has no byte-order mark (a UTF-8/16/32 mark decides);
    ``max_field_chars`` bounds one field (setting ``ingest.max_field_chars``). ``columns`` names
    the fields of a CSV without a header line (generic format). ``allow_no_asset`` and
    ``allow_no_time`` accept a generic mapping without an asset or a time column."""

    format: str = "auto"
    mapping: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    kind: str | None = None
    asset_template: str | None = None
    timezone: str = "UTC"
    time_format: str | None = None
    encoding: str = "utf-8-sig"
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS
    columns: tuple[str, ...] | None = None
    allow_no_asset: bool = False
    allow_no_time: bool = False
    max_unpacked_mb: float = 512.0

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"Unknown log format {self.format!r}. Available: {', '.join(FORMATS)}.")
        if self.mapping and self.format not in ("auto", "generic"):
            raise ConfigError(f"--map applies to the generic format, not to preset {self.format!r}.")
        if self.columns is not None:
            if self.format not in ("auto", "generic"):
                raise ConfigError(f"--columns applies to the generic format, not to preset {self.format!r}.")
            names = [c.strip() for c in self.columns]
            if not names or not all(names) or len(set(names)) != len(names):
                raise ConfigError(f"--columns must give every field its own name. Got {','.join(self.columns)!r}.")
            object.__setattr__(self, "columns", tuple(names))
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ConfigError(f"timezone must be an IANA zone name. Got {self.timezone!r}.") from err
        if self.max_field_chars < 1:
            raise ConfigError(f"max_field_chars must be >= 1. Got {self.max_field_chars}.")


def _parse_time(text: str, options: LogOptions) -> datetime:
    value = text.strip()
    if options.time_format:
        parsed = datetime.strptime(value, options.time_format)
    else:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(options.timezone))
    return parsed.astimezone(UTC)


def _asset(text: str, template: str) -> str:
    value = text.strip()
    return template.format(int(value)) if re.fullmatch(r"[+-]?\d+", value) else template.format(value)


def _content_id(values: dict[str, str]) -> str:
    """Stable id of a row without one: hash of its fields (order fixed, separator unambiguous)."""
    joined = "\x1f".join(f"{k}={values.get(k, '')}" for k in sorted(values))
    return "sha256:" + hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _occurrence(content_id: str, seen: Counter[str]) -> str:
    """The n-th row of a file with this content is its own event: ``id``, ``id#2``, ``id#3`` ..."""
    seen[content_id] += 1
    n = seen[content_id]
    return content_id if n == 1 else f"{content_id}#{n}"


def _unstorable(raw: str, values: dict[str, str], columns: dict[str, str | int], max_chars: int
                ) -> tuple[str, str | None, str] | None:
    """(reason, column, code) when a row holds text no database stores faithfully: NUL bytes,
    lone surrogates (undecodable bytes, or an unpaired \\udXXX escape in JSON), or a field
    longer than ``max_chars``."""
    if "\x00" in raw:
        return "row contains a NUL byte (binary data in a text file?)", None, "nul_byte"
    for name, value in values.items():
        column = str(columns[name])
        if "\x00" in value:
            return f"field {column!r} contains a NUL byte (binary data in a text file?)", column, "nul_byte"
        if _SURROGATE.search(value):
            return (f"field {column!r} holds text that is not valid Unicode (undecodable bytes, or an "
                    "unpaired \\udXXX escape in JSON); fix the export or pass --encoding"), column, "encoding"
        if len(value) > max_chars:
            return (f"field {column!r} holds {len(value):,} characters, more than the limit of "
                    f"{max_chars:,} (ingest.max_field_chars)"), column, "too_long"
    return None


class LogConnector:
    """Reads maintenance-log exports; construct with :class:`LogOptions`, then :meth:`read`."""

    name = "logs"

    def __init__(self, options: LogOptions | None = None) -> None:
        self.options = options or LogOptions()

    def preset(self, path: Path) -> Preset:
        """The layout used for ``path`` (given, detected, or generic from its header)."""
        with unpack(path, path.name, self.options.max_unpacked_mb) as plain:
            return self._preset(plain.path)

    def _preset(self, path: Path) -> Preset:
        name = self.options.format
        if name == "auto":
            name = "generic" if self.options.columns or path.suffix.lower() in (".json", ".jsonl") else detect(
                path, first_line(path, file_encoding(path, self.options.encoding, path.name)))
        if name != "generic":
            return PRESETS[name]
        return Preset("generic", self.options.source or "cmms", self.options.kind or "event", {},
                      header=self.options.columns is None)

    def read(self, path: str | Path, source: str | None = None) -> Iterator[MaintenanceRecord | Rejection]:
        path = Path(path)
        label = source or path.name
        if not path.is_file():
            raise InputDataError(f"{label}: no such file ({path}).")
        with unpack(path, label, self.options.max_unpacked_mb) as plain:
            yield from self._read(plain.path, label)

    def _read(self, path: Path, label: str) -> Iterator[MaintenanceRecord | Rejection]:
        preset = self._preset(path)
        columns = dict(preset.columns)
        template = self.options.asset_template or preset.asset_template
        log_source = self.options.source or preset.source
        kind = self.options.kind or preset.kind
        encoding = file_encoding(path, self.options.encoding, label)
        seen: Counter[str] = Counter()
        names = list(self.options.columns) if self.options.columns else None
        for record in read_records(path, label, preset.header, encoding, self.options.max_field_chars, names):
            if isinstance(record, Rejection):
                yield record
                continue
            if preset.name == "generic" and not columns:
                columns = self._generic(record.header, label)
            yield self._record(record, columns, template, log_source, kind, label, seen)

    def _generic(self, header: list[str], label: str) -> dict[str, str | int]:
        """The generic mapping for ``header``, refused when it lacks the asset or time (unless allowed)."""
        try:
            columns = generic_columns(header, self.options.mapping)
        except ConfigError as err:
            if looks_like_data(header) and self.options.columns is None:
                raise ConfigError(headerless_message(label, header, _EXAMPLE)) from err
            raise ConfigError(f"{label}: {err}") from err
        missing = [(field, flag, what, use) for field, flag, what, use, allowed in (
            ("asset", "--allow-no-asset", "asset", "a machine", self.options.allow_no_asset),
            ("ts", "--allow-no-time", "time", "a moment", self.options.allow_no_time))
            if field not in columns and not allowed]
        if missing:
            if looks_like_data(header) and self.options.columns is None:
                raise ConfigError(headerless_message(label, header, _EXAMPLE))
            fields = " or ".join(m[2] for m in missing)
            uses = " or ".join(m[3] for m in missing)
            maps = " ".join(f"--map {m[0]}=COLUMN" for m in missing)
            flags = " ".join(m[1] for m in missing)
            msg = (f"{label}: no column gives the {fields} of an event (columns: {', '.join(header)}), so "
                   f"the events could not be tied to {uses}. Map it with {maps}, or pass {flags} if "
                   "the events are to be stored without.")
            raise ConfigError(msg)
        return columns

    def _record(self, record: RawRecord, columns: dict[str, str | int], template: str,
                log_source: str, kind: str, label: str, seen: Counter[str]) -> MaintenanceRecord | Rejection:
        def reject(reason: str, column: str | None, code: str) -> Rejection:
            return Rejection(label, record.line, column, reason, record.raw, code)

        values = {f: record.get(c) for f, c in columns.items()}
        if any(v is None for v in values.values()):
            missing = [str(columns[f]) for f, v in values.items() if v is None]
            return reject(f"row lacks column(s) {', '.join(missing)}", None, "field_count")
        unstorable = _unstorable(record.raw, values, columns, self.options.max_field_chars)
        if unstorable is not None:
            return reject(*unstorable)
        ts = None
        if values.get("ts", "").strip():
            try:
                ts = _parse_time(values["ts"], self.options)
            except ValueError:
                hint = f"--time-format {self.options.time_format!r}" if self.options.time_format else "ISO 8601 or pass --time-format"
                return reject(f"timestamp {values['ts']!r} is not {hint}", str(columns["ts"]), "bad_timestamp")
        asset = None
        if values.get("asset", "").strip():
            try:
                asset = _asset(values["asset"], template)
            except (ValueError, IndexError, KeyError):
                return reject(f"asset {values['asset']!r} does not fit the asset template {template!r}",
                              str(columns["asset"]), "bad_asset")
        external = values.get("external_id")
        if "external_id" in columns and not (external or "").strip():
            return reject("the id column is empty", str(columns["external_id"]), "missing_id")
        external = external.strip() if external else _occurrence(_content_id(values), seen)
        fields = {"kind": (values.get("kind") or kind).strip(), "code": (values.get("code") or "").strip() or None,
                  "component": (values.get("component") or "").strip() or None, "external_id": external, "asset": asset}
        for name, limit in LIMITS.items():
            value = fields[name]
            if value is not None and len(str(value)) > limit:
                return reject(f"{name} is longer than {limit} characters", str(columns.get(name, name)), "too_long")
        return MaintenanceRecord(
            source=log_source, external_id=external, kind=fields["kind"] or kind,
            text=values.get("text") or "", asset=asset, ts=ts, code=fields["code"],
            component=fields["component"], action=values.get("action"), line=record.line,
        )
