"""What the simulator publishes: DataValues, injected faults, advertised ranges, fast writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import numpy as np
from asyncua import Server, ua

from plantpulse.connectors.opcua.sim.replay import ReplayAsset
from plantpulse.data.core.times import from_micros, utcnow

CLOCK_JUMP_US = 86_400_000_000  # a clock-jump fault stamps its value one day ahead


@contextmanager
def shared_datavalues() -> Iterator[None]:
    """Let subscribers share the simulator's DataValues instead of deep-copying each one.

    asyncua deep-copies every value once per monitored item, in case the application mutates it
    later; that copy is most of the server's CPU per value. The simulator builds a fresh DataValue
    for every publish and never changes one, so while it runs a copy returns the object itself.
    """
    had = "__deepcopy__" in vars(ua.DataValue)
    previous = vars(ua.DataValue).get("__deepcopy__")
    ua.DataValue.__deepcopy__ = lambda self, memo: self  # type: ignore[attr-defined]  # patched on purpose, see docstring
    try:
        yield
    finally:
        if had:
            ua.DataValue.__deepcopy__ = previous  # type: ignore[attr-defined]  # restore the patch above
        else:
            del ua.DataValue.__deepcopy__  # type: ignore[attr-defined]  # remove the patch above


async def publish(server: Server, node_id: ua.NodeId, dv: ua.DataValue) -> None:
    """Set a variable's value and notify its monitored items.

    asyncua's ``write_attribute_value`` refuses a value whose type differs from the previous
    one, as a server should; but a misconfigured device behind a gateway is exactly what gets
    past such checks, and the fault injection must be able to publish it. The simulator only
    writes its own values, so it sets them directly and fires the data-change callbacks.
    """
    attribute = server.iserver.aspace._nodes[node_id].attributes[ua.AttributeIds.Value]
    attribute.value = dv
    for handle, callback in list(attribute.datachange_callbacks.items()):
        await callback(handle, dv)


def fleet_ranges(assets: list[ReplayAsset]) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(asset type, channel) -> (min, max, margin): what ``EURange`` advertises is min - margin
    to max + margin over the whole fleet, like a sensor's rated span."""
    out: dict[tuple[str, str], tuple[float, float, float]] = {}
    for asset in assets:
        for c, name in enumerate(asset.channels):
            column = asset.values[:, c]
            lo, hi = float(np.nanmin(column)), float(np.nanmax(column))
            old = out.get((asset.asset_type, name))
            if old is not None:
                lo, hi = min(lo, old[0]), max(hi, old[1])
            out[(asset.asset_type, name)] = (lo, hi, max(hi - lo, abs(hi) * 0.01, 1e-3))
    return out


GOOD = ua.StatusCode(ua.UInt32(0))


def datavalue(value: ua.Variant, status: int, ts_us: int, now: datetime | None = None) -> ua.DataValue:
    code = GOOD if status == 0 else ua.StatusCode(ua.UInt32(status))
    return ua.DataValue(value, StatusCode=code, SourceTimestamp=from_micros(ts_us),
                        ServerTimestamp=now or utcnow())  # type: ignore[arg-type]  # asyncua types timestamps as its ua.DateTime subclass, takes any datetime


def inject(fault: str | None, value: float, high: float, span: float, ts_us: int) -> tuple[str, object, int, int]:
    """(variant kind, value, status code, source ts) of one published value, faulty or not."""
    if fault == "bad_status":  # a Bad value carries no value (OPC 10000-4, 7.7.1)
        return "n", None, ua.StatusCodes.BadSensorFailure, ts_us
    if fault == "uncertain":
        return "d", value, ua.StatusCodes.UncertainLastUsableValue, ts_us
    if fault == "nan":
        return "d", float("nan"), 0, ts_us
    if fault == "wrong_type":
        return "s", "n/a", 0, ts_us
    if fault == "out_of_range":
        return "d", high + 100 * span, 0, ts_us
    if fault == "clock_jump":
        return "d", value, 0, ts_us + CLOCK_JUMP_US
    return "d", value, 0, ts_us
