"""The connector registry: every input PlantPulse understands, looked up by name.

Entries name the module that implements them instead of importing it, so listing connectors is
instant and a connector whose optional package is missing fails only when it is used, with the
command that installs it. Module paths live in this file only; none is ever taken from config.

``connector_for_file(path, "sensors")`` picks the connector for a file by its name (the only place
that does); ``get_connector("csv")`` returns the class (construct it with its options);
``get_connector("opcua2")`` raises "Unknown connector 'opcua2'. Available: csv, images, ...".
Another package adds its connector with :func:`register_connector`.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plantpulse.data.core.errors import PlantPulseError
from plantpulse.data.core.registry import Registry

KINDS = ("sensors", "logs", "images", "stream")


class MissingDependencyError(PlantPulseError, ImportError):
    """A connector needs an optional package that is not installed."""


@dataclass(frozen=True, slots=True)
class ConnectorEntry:
    """How to load one connector: ``target`` is "module:attribute" inside PlantPulse."""

    name: str
    kind: str
    target: str
    description: str
    requires: tuple[str, ...] = ()  # importable module names that must be present
    install_hint: str = ""
    suffixes: tuple[str, ...] = ()  # file-name endings it reads, lower case ("auto" picks by these)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            msg = f"Connector kind must be one of {', '.join(KINDS)}. Got {self.kind!r} for {self.name!r}."
            raise PlantPulseError(msg)
        if ":" not in self.target:
            msg = f"Connector target must look like 'module:attribute'. Got {self.target!r}."
            raise PlantPulseError(msg)

    def missing(self) -> list[str]:
        """The required modules that cannot be imported here."""
        return [module for module in self.requires if importlib.util.find_spec(module) is None]

    def load(self) -> Any:
        """Import and return the connector class, or say what to install."""
        missing = self.missing()
        if missing:
            hint = self.install_hint or f"pip install {' '.join(missing)}"
            msg = (f"Connector '{self.name}' needs {', '.join(missing)}, which is not installed. "
                   f"Install it with: {hint}")
            raise MissingDependencyError(msg)
        module_name, attribute = self.target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


CONNECTORS: Registry[ConnectorEntry] = Registry("connector")


def register_connector(entry: ConnectorEntry) -> ConnectorEntry:
    """Add a connector; a second entry with the same name is an error."""
    CONNECTORS.add(entry.name, entry)
    return entry


def connector_entry(name: str) -> ConnectorEntry:
    return CONNECTORS.get(name)


def get_connector(name: str, kind: str | None = None) -> Any:
    """The connector class registered as ``name``; ``kind`` checks it reads that kind of input."""
    entry = CONNECTORS.get(name)
    if kind is not None and entry.kind != kind:
        same = ", ".join(n for n in CONNECTORS if CONNECTORS.get(n).kind == kind)
        msg = f"Connector '{name}' reads {entry.kind}, not {kind}. Connectors for {kind}: {same}."
        raise PlantPulseError(msg)
    return entry.load()


def connector_names(kind: str | None = None) -> list[str]:
    return [n for n in CONNECTORS if kind is None or CONNECTORS.get(n).kind == kind]


def file_suffixes(kind: str) -> tuple[str, ...]:
    """Every file-name ending some connector of ``kind`` reads."""
    return tuple(s for n in connector_names(kind) for s in CONNECTORS.get(n).suffixes)


def connector_for_file(path: str | Path, kind: str, name: str = "auto") -> str:
    """The connector to read ``path`` with: ``name`` itself, or for "auto" the one whose suffixes match."""
    if name != "auto":
        get_connector(name, kind)  # unknown names and wrong kinds fail here, with the list
        return name
    file_name = Path(path).name.lower()
    for candidate in connector_names(kind):
        if any(file_name.endswith(suffix) for suffix in CONNECTORS.get(candidate).suffixes):
            return candidate
    known = ", ".join(f"{n} ({' '.join(CONNECTORS.get(n).suffixes)})" for n in connector_names(kind))
    msg = (f"{Path(path).name}: no {kind} connector reads this kind of file. Known: {known}. "
           f"Rename the file or choose a connector explicitly (--connector NAME).")
    raise PlantPulseError(msg)


for _entry in (
    ConnectorEntry("csv", "sensors", "plantpulse.connectors.sensors.csv_connector:CsvConnector",
                   "sensor CSV, wide (one column per channel) or long (asset, time, channel, value); "
                   "also gzip-compressed or as the one file of a zip",
                   requires=("pyarrow",), install_hint="pip install 'pyarrow>=15'",
                   suffixes=(".csv", ".csv.gz", ".txt", ".txt.gz", ".zip")),
    ConnectorEntry("parquet", "sensors",
                   "plantpulse.connectors.sensors.parquet_connector:ParquetConnector",
                   "sensor Parquet, wide or long", requires=("pyarrow",),
                   install_hint="pip install 'pyarrow>=15'", suffixes=(".parquet", ".pq")),
    ConnectorEntry("mat", "sensors", "plantpulse.connectors.sensors.matlab:MatConnector",
                   "MATLAB .mat vectors (one channel per variable) sampled at --rate-hz from --epoch",
                   requires=("scipy",), install_hint="pip install 'scipy>=1.11'",
                   suffixes=(".mat", ".mat.gz")),
    ConnectorEntry("logs", "logs", "plantpulse.connectors.logs.connector:LogConnector",
                   "maintenance-log exports (CSV/JSON): Azure PdM, MaintNet or a column mapping; "
                   "also gzip-compressed or as the one file of a zip",
                   suffixes=(".csv", ".csv.gz", ".txt", ".txt.gz", ".json", ".json.gz", ".jsonl",
                             ".jsonl.gz", ".zip")),
    ConnectorEntry("images", "images", "plantpulse.connectors.images.connector:ImageConnector",
                   "weld images (PNG/JPG) from a folder or a zip, with optional YOLO labels",
                   requires=("PIL",), install_hint="pip install 'pillow>=10'"),
    ConnectorEntry("opcua", "stream", "plantpulse.connectors.opcua.connector:OpcUaConnector",
                   "live OPC-UA subscriptions with reconnect, disk buffer and history backfill",
                   requires=("asyncua",), install_hint="pip install 'asyncua>=1.1,<3'"),
):
    register_connector(_entry)
