"""Decide, value by value, whether an OPC-UA sample is a good reading or must be quarantined.

Nothing is dropped: a sample that fails a rule keeps its raw form and the reason, and goes to
``quarantined_rows`` when the buffer is flushed. Rules, in order: a source timestamp is present;
the status code is Good (Bad and Uncertain are refused); the value is a number (booleans count
as 0/1; arrays only on waveform nodes); it is finite; it lies in the node's range; its source
timestamp is not implausibly far ahead of this computer's clock, nor (for live values) far
behind the node's previous value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asyncua.ua.status_codes import get_name_and_doc

from plantpulse.connectors.opcua.nodes import NodeBinding
from plantpulse.data.core.times import to_micros

SEVERITY_MASK = 0xC000_0000
GOOD = 0x0000_0000
UNCERTAIN = 0x4000_0000
OVERFLOW_BIT = 0x0000_0080  # InfoType DataValue + Overflow: the server's queue dropped values
INFO_DATAVALUE = 0x0000_0400


@dataclass(frozen=True, slots=True)
class ClockLimits:
    """How far source timestamps may stray (µs): ahead of now, and back from the last value."""

    max_future_us: int
    max_backward_us: int


def status_text(code: int) -> str:
    name, _ = get_name_and_doc(code & 0xFFFF_0000)
    return f"{name} (0x{code:08X})"


def overflowed(code: int) -> bool:
    """True when the server says values of this node were lost from its queue before this one."""
    return bool(code & INFO_DATAVALUE) and bool(code & OVERFLOW_BIT)


def raw_text(value: Any, status: int, source_ts: datetime | None, server_ts: datetime | None) -> str:
    """The sample as received, for ``quarantined_rows.raw`` (bounded in size)."""
    shown = value if isinstance(value, int | float | str | bool | None) else repr(value)
    if isinstance(shown, float) and not math.isfinite(shown):
        shown = repr(shown)
    text = json.dumps({
        "value": shown if not isinstance(shown, str) else shown[:200],
        "status": status_text(status),
        "source_ts": source_ts.isoformat() if source_ts else None,
        "server_ts": server_ts.isoformat() if server_ts else None,
    })
    return text[:1000]


def _type_name(value: Any) -> str:
    if isinstance(value, list | tuple):
        return f"array of {len(value)}"
    return type(value).__name__


def number_or_reason(value: Any, binding: NodeBinding) -> tuple[float | None, str | None]:
    """The value as float, or why it is not a usable number on this node."""
    if isinstance(value, bool):
        return float(value), None
    if not isinstance(value, int | float):
        return None, f"wrong type: expected a number, got {_type_name(value)} {str(value)[:60]!r}"
    number = float(value)
    if not math.isfinite(number):
        return None, f"value is not finite ({number})"
    if (binding.low is not None and number < binding.low) or (binding.high is not None and number > binding.high):
        return None, f"out of range [{_g(binding.low)}, {_g(binding.high)}]: got {number:g}"
    return number, None


def _g(bound: float | None) -> str:
    return "-inf" if bound is None else f"{bound:.6g}"


def status_reason(status: int) -> str | None:
    severity = status & SEVERITY_MASK
    if severity == GOOD:
        return None
    word = "uncertain" if severity == UNCERTAIN else "bad"
    return f"{word} status {status_text(status)}"


def clock_reason(ts_us: int, now_us: int, previous_us: int | None, live: bool, limits: ClockLimits) -> str | None:
    ahead = ts_us - now_us
    if ahead > limits.max_future_us:
        return f"clock jump: source timestamp is {ahead / 1e6:.1f} s ahead of this computer's clock"
    if live and previous_us is not None and previous_us - ts_us > limits.max_backward_us:
        return f"clock jump: source timestamp went back {(previous_us - ts_us) / 1e6:.1f} s from the previous value"
    return None


@dataclass(frozen=True, slots=True)
class Checked:
    """One sample after the rules: ``reason`` None means a good reading."""

    ts_us: int
    value: float | None
    status: int
    reason: str | None
    raw: str


def check_sample(binding: NodeBinding, value: Any, status: int, source_ts: datetime | None,
                 server_ts: datetime | None, now_us: int, previous_us: int | None, live: bool,
                 limits: ClockLimits) -> list[Checked]:
    """Apply the rules to one received DataValue; waveform arrays expand to one row per sample."""
    if source_ts is None:
        ts_us = to_micros(server_ts) if server_ts is not None else now_us
        return [Checked(ts_us, None, status, "no source timestamp: the server must send SourceTimestamp",
                        raw_text(value, status, source_ts, server_ts))]
    ts_us = to_micros(source_ts)
    reason = status_reason(status) or clock_reason(ts_us, now_us, previous_us, live, limits)
    if reason is None and binding.sample_rate_hz is not None and isinstance(value, list | tuple):
        return _expand(binding, value, status, ts_us, source_ts, server_ts)
    if reason is None:
        number, reason = number_or_reason(value, binding)
        if reason is None:
            return [Checked(ts_us, number, status, None, "")]
    return [Checked(ts_us, None, status, reason, raw_text(value, status, source_ts, server_ts))]


def _expand(binding: NodeBinding, values: list | tuple, status: int, ts_us: int,
            source_ts: datetime, server_ts: datetime | None) -> list[Checked]:
    """A waveform block: sample i is at ``ts + i / sample_rate``."""
    step = 1e6 / float(binding.sample_rate_hz or 1.0)
    out = []
    for i, item in enumerate(values):
        number, reason = number_or_reason(item, binding)
        if reason is None:
            out.append(Checked(ts_us + round(i * step), number, status, None, ""))
        else:
            out.append(Checked(ts_us + round(i * step), None, status, f"sample {i}: {reason}",
                               raw_text(item, status, source_ts, server_ts)))
    return out
