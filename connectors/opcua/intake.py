"""From received DataValues to committed buffer rows: checks, watermarks, counters.

Runs on the event loop, inside the subscription's publish callback, so the server is only
acknowledged once a publish's values are committed to the local buffer.

Two marks per node: ``newest`` (the newest accepted source timestamp, for the clock checks) and
the persisted ``watermark``, the time up to which the buffer holds *every* value of the node.
Backfill after a reconnect starts at the watermark. It only advances once this session's
backfill of the node has finished; from then on the live stream is contiguous and moves it on.
Live values received before that do not move it: if the connection drops mid-backfill, the next
session reads the same gap again instead of skipping it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncua import ua

from plantpulse.connectors.opcua.buffer import SampleBuffer, SampleRow
from plantpulse.connectors.opcua.nodes import NodeBinding
from plantpulse.connectors.opcua.quality import ClockLimits, check_sample, overflowed
from plantpulse.data.core.times import to_micros, utcnow

log = logging.getLogger(__name__)

# samples whose timestamp cannot be trusted never move the point where backfill resumes
_NO_WATERMARK = ("clock jump", "no source timestamp")
PLACEHOLDER = 0x8032_0000  # BadWaitingForInitialData: the server has no value yet


@dataclass
class IntakeStats:
    """Counters since the connector started."""

    live: int = 0
    history: int = 0
    new: int = 0
    repeated: int = 0
    refused: int = 0
    overflows: int = 0
    placeholders: int = 0  # "no value yet" notifications (BadWaitingForInitialData): not samples
    reasons: dict[str, int] = field(default_factory=dict)


class Intake:
    """Checks samples of ``bindings`` (by handle = index) and commits them to ``buffer``."""

    def __init__(self, bindings: Sequence[NodeBinding], buffer: SampleBuffer, limits: ClockLimits) -> None:
        self.bindings = tuple(bindings)
        self.buffer = buffer
        self.limits = limits
        self.stats = IntakeStats()
        self.targets = buffer.target_ids(self.bindings)
        marks = buffer.watermarks()
        self.watermarks: list[int | None] = [marks.get(b.node) for b in self.bindings]
        self.newest: list[int | None] = list(self.watermarks)
        self.complete: set[int] = set()  # handles whose gap this session has backfilled
        self.gaps: set[int] = set()  # handles whose server queue overflowed: backfill them

    def begin_session(self) -> None:
        """A new connection: every node's gap must be backfilled again before marks move."""
        self.complete.clear()
        self.gaps.clear()

    def mark_complete(self, handles: Iterable[int]) -> None:
        """The gap of ``handles`` is backfilled: their watermark moves to the newest value held."""
        moved = {}
        for h in handles:
            self.complete.add(h)
            newest, mark = self.newest[h], self.watermarks[h]
            if newest is not None and (mark is None or newest > mark):
                moved[h] = newest
        if moved:
            self.buffer.append([], {self.bindings[h].node: ts for h, ts in moved.items()})
            for h, ts in moved.items():
                self.watermarks[h] = ts

    def add(self, items: Iterable[tuple[int, ua.DataValue]], live: bool) -> int:
        """Check and commit ``(handle, DataValue)`` pairs; returns how many rows were new."""
        now_us = to_micros(utcnow())
        rows: list[SampleRow] = []
        advanced: dict[int, int] = {}  # handle -> newest accepted ts, applied once committed
        origin = "live" if live else "history"
        for handle, dv in items:
            rows.extend(self._rows(handle, dv, now_us, live, origin, advanced))
        if not rows:
            return 0
        marks = {h: ts for h, ts in advanced.items() if live and h in self.complete}
        added = self.buffer.append(rows, {self.bindings[h].node: ts for h, ts in marks.items()})
        for handle, ts in advanced.items():
            self.newest[handle] = ts
        for handle, ts in marks.items():
            self.watermarks[handle] = ts
        self.stats.new += added
        self.stats.repeated += len(rows) - added
        return added

    def _rows(self, handle: int, dv: ua.DataValue, now_us: int, live: bool, origin: str,
              advanced: dict[int, int]) -> list[SampleRow]:
        binding = self.bindings[handle]
        status = dv.StatusCode.value if dv.StatusCode is not None else 0
        value: Any = dv.Value.Value if dv.Value is not None else None
        if live:
            self.stats.live += 1
            if overflowed(status):
                self.stats.overflows += 1
                self.gaps.add(handle)
        else:
            self.stats.history += 1
        if status == PLACEHOLDER and value is None:
            self.stats.placeholders += 1
            return []
        mark = advanced.get(handle, self.newest[handle])
        checked = check_sample(binding, value, status, dv.SourceTimestamp, dv.ServerTimestamp, now_us,
                               mark, live, self.limits)
        target = self.targets[handle]
        out: list[SampleRow] = []
        for c in checked:
            out.append((target, c.ts_us, c.value, c.status, c.reason, c.raw, now_us, origin))
            if (c.reason is None or not c.reason.startswith(_NO_WATERMARK)) and (mark is None or c.ts_us > mark):
                mark = advanced[handle] = c.ts_us
            if c.reason is not None:
                self.stats.refused += 1
                kind = c.reason.split(":")[0].split(" (")[0].split(" [")[0]
                self.stats.reasons[kind] = self.stats.reasons.get(kind, 0) + 1
        return out
