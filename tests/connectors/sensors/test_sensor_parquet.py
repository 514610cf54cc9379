"""The parquet connector: typed columns used as they are, text columns checked like CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plantpulse.connectors.sensors.options import SensorOptions
from plantpulse.connectors.sensors.parquet_connector import ParquetConnector
from plantpulse.data.core.errors import InputDataError

T0 = 1_704_067_200_000_000


def _read(path: Path, **options: object):
    chunks = list(ParquetConnector(SensorOptions(**options)).open(path))
    return chunks, [r for c in chunks for r in c.rejections]


def test_typed_wide_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "asset": ["m1", "m1", "m2", None],
        "timestamp": pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T01:00Z", "2024-01-01T00:00Z", "2024-01-01T00:00Z"]),
        "temp [degC]": [1.0, np.nan, np.inf, 3.0],
        "count": np.array([1, 2, 3, 4], dtype=np.int64),
    })
    frame.to_parquet(tmp_path / "a.parquet")
    chunks, rejections = _read(tmp_path / "a.parquet")
    [chunk] = chunks
    assert [s.name for s in chunk.channels] == ["temp", "count"] and chunk.channels[0].unit == "degC"
    assert chunk.line.tolist() == [1, 1, 2, 3] and chunk.value.tolist() == [1.0, 1.0, 2.0, 3.0]
    assert chunk.ts_us[0] == T0
    assert [(r.line, r.code) for r in rejections] == [(3, "not_finite"), (4, "empty_asset")]
    assert '"asset": null' in rejections[1].raw


def test_naive_parquet_times_use_the_timezone(tmp_path: Path) -> None:
    frame = pd.DataFrame({"asset": ["m1"], "timestamp": pd.to_datetime(["2024-01-01T01:00:00"]), "v": [1.0]})
    frame.to_parquet(tmp_path / "n.parquet")
    chunks, _ = _read(tmp_path / "n.parquet", timezone="Europe/Berlin")
    assert chunks[0].ts_us.tolist() == [T0]


def test_text_columns_are_checked_cell_by_cell(tmp_path: Path) -> None:
    frame = pd.DataFrame({"asset": ["m1"] * 3, "timestamp": ["2024-01-01T00:00:00Z", "never", "2024-01-01T02:00:00Z"],
                          "channel": ["temp"] * 3, "value": ["1.5", "2", "x"]})
    frame.to_parquet(tmp_path / "long.parquet")
    chunks, rejections = _read(tmp_path / "long.parquet")
    assert chunks[0].value.tolist() == [1.5]
    assert [(r.line, r.code) for r in rejections] == [(2, "bad_timestamp"), (3, "not_numeric")]


def test_corrupt_parquet_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InputDataError, match="not a readable Parquet file"):
        _read(tmp_path / "bad.parquet")
