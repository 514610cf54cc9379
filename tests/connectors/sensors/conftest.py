"""Helpers for the sensor-connector tests: write small files, read them back as flat results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from plantpulse.connectors.sensors.csv_connector import CsvConnector
from plantpulse.connectors.sensors.options import SensorOptions
from plantpulse.data.core.records import Rejection, SensorChunk

T0 = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z in µs


@dataclass(frozen=True)
class ReadResult:
    """Everything a connector produced for one file, flattened across chunks."""

    chunks: list[SensorChunk]
    rejections: list[Rejection]

    @property
    def values(self) -> dict[tuple[int, str], float]:
        """(line, channel name) -> value."""
        out = {}
        for c in self.chunks:
            for line, ch, v in zip(c.line.tolist(), c.channel.tolist(), c.value.tolist(), strict=True):
                out[(line, c.channels[ch].name)] = v
        return out

    @property
    def rows(self) -> list[tuple[str, int, str, float, int]]:
        """(asset, ts_us, channel, value, line) of every value, in output order."""
        return [(c.assets[a], t, c.channels[ch].name, v, line)
                for c in self.chunks
                for a, t, ch, v, line in zip(c.asset.tolist(), c.ts_us.tolist(), c.channel.tolist(),
                                             c.value.tolist(), c.line.tolist(), strict=True)]

    @property
    def codes(self) -> dict[int, str]:
        return {r.line: r.code for r in self.rejections}

    def total(self, attr: str) -> int:
        return sum(getattr(c, attr) for c in self.chunks)


def read_all(path: Path, **options: object) -> ReadResult:
    chunks = list(CsvConnector(SensorOptions(**options)).open(path))
    return ReadResult(chunks, [r for c in chunks for r in c.rejections])


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """write_csv(text or bytes, name=...) -> path of a file holding exactly those bytes."""

    def write(content: str | bytes, name: str = "readings.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return write


@pytest.fixture
def read_csv() -> Callable[..., ReadResult]:
    return read_all


def same_floats(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a.view(np.int64), b.view(np.int64)))
