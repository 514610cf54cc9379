"""Backfill gaps with HistoryRead (ReadRawModifiedDetails), many nodes per request.

After every (re)connect the connector asks the server for each node's values since the newest
one it already holds. The subscription is created first, so everything newer than the request
arrives live; overlaps are removed by the buffer's (node, source timestamp) key.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from asyncua import ua
from asyncua.client.ua_client import UaClient

log = logging.getLogger(__name__)

NODES_PER_REQUEST = 100
MAX_PAGES = 10_000


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    handle: int  # index of the node's binding
    node_id: ua.NodeId
    start: datetime  # inclusive


@dataclass(frozen=True, slots=True)
class HistoryPage:
    handle: int
    values: list[ua.DataValue]


def _details(start: datetime, end: datetime) -> ua.ReadRawModifiedDetails:
    details = ua.ReadRawModifiedDetails()
    details.IsReadModified = False
    details.StartTime = start
    details.EndTime = end
    details.NumValuesPerNode = 0
    details.ReturnBounds = False
    return details


def _params(details: ua.ReadRawModifiedDetails, nodes: Sequence[tuple[ua.NodeId, bytes | None]]
            ) -> ua.HistoryReadParameters:
    params = ua.HistoryReadParameters()
    params.HistoryReadDetails = details
    params.TimestampsToReturn = ua.TimestampsToReturn.Both
    params.ReleaseContinuationPoints = False
    for node_id, cont in nodes:
        value_id = ua.HistoryReadValueId()
        value_id.NodeId = node_id
        value_id.IndexRange = ""
        value_id.ContinuationPoint = cont
        params.NodesToRead.append(value_id)
    return params


async def read_gaps(uaclient: UaClient, requests: Sequence[HistoryRequest], end: datetime,
                    no_history: set[int]) -> AsyncIterator[HistoryPage]:
    """Yield pages of history per node; nodes without history are added to ``no_history``."""
    by_start: dict[datetime, list[HistoryRequest]] = defaultdict(list)
    for req in requests:
        by_start[req.start].append(req)
    for start, group in sorted(by_start.items()):
        for i in range(0, len(group), NODES_PER_REQUEST):
            async for page in _read_group(uaclient, group[i : i + NODES_PER_REQUEST], start, end, no_history):
                yield page


async def _read_group(uaclient: UaClient, group: Sequence[HistoryRequest], start: datetime, end: datetime,
                      no_history: set[int]) -> AsyncIterator[HistoryPage]:
    details = _details(start, end)
    todo: list[tuple[HistoryRequest, bytes | None]] = [(req, None) for req in group]
    for _ in range(MAX_PAGES):
        if not todo:
            return
        results = await uaclient.history_read(_params(details, [(r.node_id, c) for r, c in todo]))
        following = []
        for (req, previous), result in zip(todo, results, strict=True):
            if not result.StatusCode.is_good():
                if req.handle not in no_history:
                    log.warning("No history for node %s (%s): a gap in its values cannot be backfilled.",
                                req.node_id.to_string(), result.StatusCode.name)
                no_history.add(req.handle)
                continue
            values = list(getattr(result.HistoryData, "DataValues", None) or [])
            if values:
                yield HistoryPage(req.handle, values)
            cont = result.ContinuationPoint
            if cont and cont != previous:
                following.append((req, cont))
        todo = following
    log.warning("HistoryRead stopped after %d pages; the rest of the gap comes with the next reconnect.", MAX_PAGES)
