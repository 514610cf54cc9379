"""Long sensor files (asset, time, channel, value[, unit][, status]) and the clean/dirty parity."""

from __future__ import annotations

import numpy as np
import pytest

from plantpulse.connectors.sensors.options import ChannelLimit
from plantpulse.data.core.errors import InputDataError

T0 = 1_704_067_200_000_000


def test_long_file_with_units_and_status(write_csv, read_csv) -> None:
    path = write_csv("asset,timestamp,channel,value,unit,status\n"
                     "m1,2024-01-01T00:00:00Z,temp,20.5,degC,0\n"
                     "m1,2024-01-01T00:00:00Z,speed,1500,rpm,Good\n"
                     "m2,2024-01-01T00:00:00Z,temp,21,degC,0x80000000\n")
    result = read_csv(path)
    assert result.chunks[0].channels == tuple(result.chunks[0].channels)
    specs = {s.name: s.unit for s in result.chunks[0].channels}
    assert specs == {"temp": "degC", "speed": "rpm"}
    assert result.rows == [("m1", T0, "temp", 20.5, 2), ("m1", T0, "speed", 1500.0, 3), ("m2", T0, "temp", 21.0, 4)]
    assert result.chunks[0].status.tolist() == [0, 0, np.int32(np.uint32(0x80000000).view(np.int32))]


@pytest.mark.parametrize(
    ("row", "code", "column"),
    [("m1,2024-01-01T00:00:00Z,temp,20,degF,0", "unit_conflict", "unit"),
     ("m1,2024-01-01T00:00:00Z,,20,degC,0", "bad_channel", "channel"),
     ("m1,2024-01-01T00:00:00Z,temp,20,degC,broken", "bad_status", "status"),
     ("m1,2024-01-01T00:00:00Z,temp,hot,degC,0", "not_numeric", "value"),
     ("m1,2024-01-01T00:00:00Z,temp,999,degC,0", "out_of_range", "value")],
    ids=["unit", "channel", "status", "value", "limit"],
)
def test_long_row_problems(write_csv, read_csv, row: str, code: str, column: str) -> None:
    path = write_csv("asset,timestamp,channel,value,unit,status\nm1,2024-01-01T00:00:00Z,temp,20,degC,0\n"
                     + row + "\nm1,2024-01-01T01:00:00Z,temp,22,degC,0\n")
    result = read_csv(path, limits={"temp": ChannelLimit(-50, 500)})
    [rejection] = result.rejections
    assert (rejection.line, rejection.code, rejection.column) == (3, code, column)
    assert {(2, "temp"), (4, "temp")} == set(result.values)


def test_unit_conflict_is_judged_across_chunks(write_csv, read_csv) -> None:
    rows = "".join(f"m1,2024-01-01T00:{i:02d}:00Z,temp,{i},{'degF' if i == 30 else 'degC'}\n" for i in range(40))
    result = read_csv(write_csv("asset,timestamp,channel,value,unit\n" + rows), chunk_rows=10)
    assert result.codes == {32: "unit_conflict"}


def test_typed_and_text_paths_give_identical_floats(write_csv, read_csv, rng) -> None:
    values = rng.normal(0, 1e3, 500)
    texts = [repr(float(v)) if i % 3 else f"{v:.17g}" for i, v in enumerate(values)]
    body = "".join(f"m1,2024-01-01T00:00:00Z,c{i},{t}\n" for i, t in enumerate(texts))
    clean = read_csv(write_csv("asset,timestamp,channel,value\n" + body, name="clean.csv"))
    dirty = read_csv(write_csv("asset,timestamp,channel,value\n" + body + "m1,2024-01-01T00:00:00Z,cx,oops\n",
                               name="dirty.csv"))
    assert dirty.codes == {502: "not_numeric"}
    a = np.array([r[3] for r in clean.rows])
    b = np.array([r[3] for r in dirty.rows])
    assert np.array_equal(a.view(np.int64), b.view(np.int64))
    assert np.array_equal(a, np.array([float(t) for t in texts]))


def test_overlong_units_are_refused(write_csv, read_csv) -> None:
    long_unit = "u" * 40
    result = read_csv(write_csv(f"asset,timestamp,channel,value,unit\nm1,2024-01-01T00:00:00Z,t,1,{long_unit}\n"))
    assert result.codes == {2: "unit_conflict"} and "longer than 32" in result.rejections[0].reason
    with pytest.raises(InputDataError, match="longer than 32 characters"):
        read_csv(write_csv(f"asset,timestamp,t [{long_unit}]\nm1,2024-01-01T00:00:00Z,1\n", name="w.csv"))
