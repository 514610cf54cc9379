"""Property values read while browsing: which DataValues count as good."""

from __future__ import annotations

import asyncio

from asyncua import ua

from plantpulse.connectors.opcua.browse import _read_values


class _Server:
    """Answers a Read with the given DataValues, one per node asked for."""

    def __init__(self, *values: ua.DataValue) -> None:
        self.values = list(values)

    async def read(self, params: ua.ReadParameters) -> list[ua.DataValue]:
        assert len(params.NodesToRead) == len(self.values)
        return self.values


def test_a_value_without_a_status_code_is_good_and_a_bad_one_is_dropped() -> None:
    server = _Server(
        ua.DataValue(ua.Variant(4.5), StatusCode=None),
        ua.DataValue(ua.Variant(7.0)),
        ua.DataValue(ua.Variant(1.0), StatusCode=ua.StatusCode(ua.UInt32(ua.StatusCodes.BadSensorFailure))),
    )
    nodes = [ua.NodeId(ua.Int32(i), ua.Int16(2)) for i in (1, 2, 3)]
    assert asyncio.run(_read_values(server, nodes)) == [4.5, 7.0, None]
