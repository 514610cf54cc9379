"""Records the connectors hand to ingest: shapes and values are checked once, on construction."""

from __future__ import annotations

import numpy as np
import pytest

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import ChannelSpec, Rejection, SensorChunk, YoloBox


def _chunk(n: int, line_n: int) -> SensorChunk:
    return SensorChunk(assets=("m1",), asset=np.zeros(n, np.int32), channels=(ChannelSpec("t"),), columns=("t",),
                       channel=np.zeros(n, np.int16), ts_us=np.zeros(n, np.int64), value=np.zeros(n),
                       status=np.zeros(n, np.int32), line=np.zeros(line_n, np.int64))


def test_sensor_chunk_checks_shapes() -> None:
    assert len(_chunk(3, 3)) == 3
    with pytest.raises(InputDataError, match="SensorChunk shapes disagree"):
        _chunk(3, 2)


@pytest.mark.parametrize(("args", "match"), [((0, 0.5, 0.5, 1.5, 0.1), "normalised"), ((-1, 0.5, 0.5, 0.1, 0.1), "class id"),
                                             ((0, 0.5, 0.5, 0.0, 0.1), "positive size")],
                         ids=["outside", "negative-class", "empty-box"])
def test_yolo_box_checks_values(args: tuple, match: str) -> None:
    with pytest.raises(InputDataError, match=match):
        YoloBox(*args)


def test_rejection_describes_where() -> None:
    rejection = Rejection("f.csv", 12, "temp", "value 'x' is not a number", "m1,x", "not_numeric")
    assert rejection.describe() == "f.csv:12: column 'temp' value 'x' is not a number"
