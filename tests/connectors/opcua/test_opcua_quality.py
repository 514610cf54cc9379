"""The per-value rules: what is a good reading, and why anything else is quarantined."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from plantpulse.connectors.opcua.nodes import NodeBinding
from plantpulse.connectors.opcua.quality import ClockLimits, check_sample, overflowed
from plantpulse.data.core.times import to_micros

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW_US = to_micros(NOW)
LIMITS = ClockLimits(max_future_us=300_000_000, max_backward_us=60_000_000)
NODE = NodeBinding("ns=2;s=p", "press-07", "pressure", "press", "bar", low=0.0, high=400.0)


def check(value, status=0, ts=NOW, previous=None, live=True, binding=NODE):
    return check_sample(binding, value, status, ts, NOW, NOW_US, previous, live, LIMITS)


@pytest.mark.parametrize(("value", "expected"), [(12.5, 12.5), (7, 7.0), (True, 1.0), (0.0, 0.0), (400.0, 400.0)],
                         ids=["float", "int", "bool", "zero", "upper-bound"])
def test_good_numbers_are_readings(value: object, expected: float) -> None:
    [row] = check(value)
    assert row.reason is None and row.value == expected and row.ts_us == NOW_US


@pytest.mark.parametrize(("value", "status", "ts", "reason"), [
    (1.0, 0x808C0000, NOW, r"^bad status BadSensorFailure \(0x808C0000\)"),
    (1.0, 0x40900000, NOW, r"^uncertain status UncertainLastUsableValue"),
    (float("nan"), 0, NOW, r"^value is not finite"),
    (float("inf"), 0, NOW, r"^value is not finite"),
    ("n/a", 0, NOW, r"^wrong type: expected a number, got str 'n/a'"),
    (None, 0, NOW, r"^wrong type: expected a number, got NoneType"),
    ([1.0, 2.0], 0, NOW, r"^wrong type: expected a number, got array of 2"),
    (400.5, 0, NOW, r"^out of range \[0, 400\]: got 400.5"),
    (-1.0, 0, NOW, r"^out of range \[0, 400\]"),
    (1.0, 0, NOW + timedelta(hours=1), r"^clock jump: source timestamp is 3600.0 s ahead"),
    (1.0, 0, None, r"^no source timestamp"),
], ids=["bad", "uncertain", "nan", "inf", "string", "null", "array", "above-range", "below-range",
        "future", "no-timestamp"])
def test_refused_values_carry_a_reason_and_the_raw_sample(value: object, status: int, ts: datetime | None,
                                                          reason: str) -> None:
    [row] = check(value, status, ts)
    assert row.value is None
    assert row.reason is not None and re.search(reason, row.reason), row.reason
    assert '"status"' in row.raw and "source_ts" in row.raw


def test_live_value_going_back_in_time_is_a_clock_jump_but_history_is_not() -> None:
    earlier = NOW - timedelta(minutes=5)
    [live] = check(1.0, ts=earlier, previous=NOW_US, live=True)
    [old] = check(1.0, ts=earlier, previous=NOW_US, live=False)
    assert live.reason is not None and live.reason.startswith("clock jump: source timestamp went back 300.0 s")
    assert old.reason is None


def test_waveform_arrays_expand_to_one_row_per_sample() -> None:
    wave = NodeBinding("ns=2;s=v", "rig-1", "vibration", "rig", "g", sample_rate_hz=4.0)
    rows = check([0.1, 0.2, float("nan"), 0.4], binding=wave)
    assert [r.ts_us - NOW_US for r in rows] == [0, 250_000, 500_000, 750_000]
    assert [r.reason is None for r in rows] == [True, True, False, True]
    assert rows[2].reason is not None and rows[2].reason.startswith("sample 2: value is not finite")


@pytest.mark.parametrize(("code", "expected"), [(0x00000480, True), (0x00000400, False), (0x00000080, False)],
                         ids=["overflow", "info-only", "bit-without-info-type"])
def test_overflow_bit(code: int, expected: bool) -> None:
    assert overflowed(code) is expected
