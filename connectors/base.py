"""What the sensor connectors hand to the ingest job: the sensor stream type.

Connectors only read and validate: they yield typed records and :class:`Rejection` s and never
touch the database. The registry (:mod:`plantpulse.connectors.registry`) maps names to classes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from plantpulse.data.core.records import (
    SensorChunk,
    SensorSourceInfo,
)


@dataclass(frozen=True, slots=True)
class SensorStream:
    """A sensor file opened for reading: what its header said, then its chunks in file order."""

    info: SensorSourceInfo
    chunks: Iterator[SensorChunk]

    def __iter__(self) -> Iterator[SensorChunk]:
        return self.chunks


