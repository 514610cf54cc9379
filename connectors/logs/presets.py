"""Known maintenance-log layouts and the generic column mapping.

A preset says which column holds each field of a :class:`MaintenanceRecord`, whether the file has
a header, and what kind of event its rows are. ``generic`` maps columns by name (``--map``) or
recognises common CMMS column names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from plantpulse.data.core.errors import ConfigError

FIELDS = ("ts", "asset", "kind", "code", "component", "text", "action", "external_id")

# Column names recognised for each field when no mapping is given (compared lower-case, '_' for spaces).
GUESSES: dict[str, tuple[str, ...]] = {
    "ts": ("ts", "timestamp", "datetime", "date_time", "time", "date", "reported_at", "created_at", "start_date"),
    "asset": ("asset", "asset_name", "equipment", "equipment_id", "machine", "machineid", "machine_id",
              "tail_number", "unit"),
    "kind": ("kind", "type", "event_type", "category", "work_type"),
    "code": ("code", "error_code", "errorid", "error_id", "failure_code", "fault_code"),
    "component": ("component", "comp", "part", "failure", "subsystem"),
    "text": ("text", "problem", "description", "remarks", "comment", "notes", "symptom"),
    "action": ("action", "resolution", "corrective_action", "work_done", "fix"),
    "external_id": ("external_id", "id", "ident", "work_order", "work_order_id", "wo", "record_id"),
}


@dataclass(frozen=True, slots=True)
class Preset:
    """A log layout: field -> column (a name, or an index for header-less files)."""

    name: str
    source: str
    kind: str
    columns: dict[str, str | int]
    header: bool
    asset_template: str = "{}"
    description: str = ""


PRESETS: dict[str, Preset] = {
    "azure-errors": Preset("azure-errors", "azure_pdm.errors", "error",
                           {"ts": 0, "asset": 1, "code": 2}, header=False,
                           asset_template="azure-machine-{:03d}",
                           description="Azure PdM PdM_errors.csv: datetime,machineID,errorID"),
    "azure-maint": Preset("azure-maint", "azure_pdm.maint", "maintenance",
                          {"ts": 0, "asset": 1, "component": 2}, header=False,
                          asset_template="azure-machine-{:03d}",
                          description="Azure PdM PdM_maint.csv: datetime,machineID,comp (replacement)"),
    "azure-failures": Preset("azure-failures", "azure_pdm.failures", "failure",
                             {"ts": 0, "asset": 1, "component": 2}, header=False,
                             asset_template="azure-machine-{:03d}",
                             description="Azure PdM PdM_failures.csv: datetime,machineID,failure"),
    "maintnet": Preset("maintnet", "maintnet", "logbook",
                       {"external_id": "IDENT", "text": "PROBLEM", "action": "ACTION"}, header=True,
                       description="MaintNet logbook: IDENT,PROBLEM,ACTION (free text)"),
}
FORMATS = ("auto", *PRESETS, "generic")
_AZURE_FILES = {"pdm_errors": "azure-errors", "pdm_maint": "azure-maint", "pdm_failures": "azure-failures"}
_AZURE_ROW = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?,\s*\d+,\s*(error|comp)\w*\s*$")


def normalize(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def detect(path: Path, first_line: str) -> str:
    """The preset a file looks like, by its name and first line; 'generic' when none fits."""
    stem = normalize(path.stem)
    for key, preset in _AZURE_FILES.items():
        if key in stem:
            return preset
    header = [normalize(f) for f in first_line.lstrip("\ufeff").split(",")]
    if header[:3] == ["ident", "problem", "action"]:
        return "maintnet"
    if _AZURE_ROW.match(first_line.strip()):
        kind = "azure-errors" if ",error" in first_line.replace(" ", "") else None
        if kind is None:
            msg = (f"{path.name} looks like an Azure PdM maintenance or failure table; say which "
                   "with --format azure-maint or --format azure-failures.")
            raise ConfigError(msg)
        return kind
    return "generic"


def generic_columns(header: list[str], mapping: dict[str, str]) -> dict[str, str | int]:
    """Field -> column for a generic file: the explicit mapping, else recognised names."""
    unknown = set(mapping) - set(FIELDS)
    if unknown:
        msg = f"Unknown log field(s) {', '.join(sorted(unknown))} in --map; fields are {', '.join(FIELDS)}."
        raise ConfigError(msg)
    columns: dict[str, str | int] = {}
    normalized = {normalize(h): h for h in header}
    for field in FIELDS:
        if field in mapping:
            if mapping[field] not in header:
                msg = f"--map {field}={mapping[field]}: no such column. Columns: {', '.join(header)}."
                raise ConfigError(msg)
            columns[field] = mapping[field]
            continue
        for guess in GUESSES[field]:
            if guess in normalized and normalized[guess] not in columns.values():
                columns[field] = normalized[guess]
                break
    if "text" not in columns and "code" not in columns and "component" not in columns:
        msg = (f"No column holds the event text, code or component (columns: {', '.join(header)}). "
               "Map one with --map text=COLUMN.")
        raise ConfigError(msg)
    return columns
