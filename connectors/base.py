"""What the connectors hand to the ingest job: protocols and the sensor stream type.

Connectors only read and validate: they yield typed records and :class:`Rejection` s and never
touch the database. Each kind of input has one protocol; the registry maps names to classes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from plantpulse.data.core.records import (
    MaintenanceRecord,
    Rejection,
    SensorChunk,
    SensorSourceInfo,
    WeldImageFile,
)


@dataclass(frozen=True, slots=True)
class SensorStream:
    """A sensor file opened for reading: what its header said, then its chunks in file order."""

    info: SensorSourceInfo
    chunks: Iterator[SensorChunk]

    def __iter__(self) -> Iterator[SensorChunk]:
        return self.chunks


class SensorConnector(Protocol):
    name: str

    def open(self, path: Path, source: str | None = None) -> SensorStream: ...


class LogConnectorProtocol(Protocol):
    name: str

    def read(self, path: Path, source: str | None = None) -> Iterator[MaintenanceRecord | Rejection]: ...


class ImageConnectorProtocol(Protocol):
    name: str

    def read(self, path: Path, source: str | None = None) -> Iterator[WeldImageFile | Rejection]: ...
