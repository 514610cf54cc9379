"""The long-running OPC-UA ingest service: reconnect loop, durable buffer and database flusher.

``OpcUaConnector(settings, sinks, home).run(stop)`` keeps a session to the server, reconnecting with
exponential backoff (fresh session and subscriptions each time) and backfilling every gap from
the server's history. Values are committed to the local buffer as they arrive; a flusher moves
them on through a sink (``sinks(buffer_id)``; the ingest pipeline's database sink in the product:
connectors never write to the database themselves), and simply waits, buffering on disk, while
the sink's store is away.
Security refusals and configuration errors stop the service with a clear message: retrying would
not fix them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from plantpulse.connectors.opcua.browse import discover
from plantpulse.connectors.opcua.buffer import PendingBlock, SampleBuffer, Target
from plantpulse.connectors.opcua.intake import Intake, IntakeStats
from plantpulse.connectors.opcua.nodes import NodeMap, load_node_map
from plantpulse.connectors.opcua.quality import ClockLimits
from plantpulse.connectors.opcua.security import OpcUaSecurityError, Pki
from plantpulse.connectors.opcua.session import Session, open_client
from plantpulse.data.core.config.opcua import OpcUaSettings
from plantpulse.data.core.errors import ConfigError
from plantpulse.data.core.times import to_micros, utcnow

log = logging.getLogger(__name__)

_FATAL = (OpcUaSecurityError, ConfigError)


class FlushOutcome(Protocol):
    """What one flush of a pending block reports back."""

    through_seq: int
    loaded: int
    duplicates: int
    quarantined: int


class BlockSink(Protocol):
    """Where buffered samples go: one pending block per call, exactly once (see ``pipelines.ingest``)."""

    def flush(self, block: PendingBlock, targets: dict[int, Target]) -> FlushOutcome: ...


SinkFactory = Callable[[str], BlockSink]  # buffer id -> its sink


@dataclass
class FlushStats:
    flushes: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    failures: int = 0


def check_security(settings: OpcUaSettings) -> None:
    """Refuse an unencrypted endpoint unless explicitly allowed, and say so loudly when it is."""
    if settings.security_policy != "None":
        return
    if not settings.allow_insecure:
        msg = ("opcua.security_policy is 'None' (no signing, no encryption) but opcua.allow_insecure is "
               "false. Use Basic256Sha256, or opt in explicitly with PLANTPULSE_OPCUA__ALLOW_INSECURE=true "
               "(or --allow-insecure) on an isolated test network only.")
        raise ConfigError(msg)
    log.warning("INSECURE OPC-UA connection to %s: no signing, no encryption (allow_insecure is set). "
                "Values and passwords travel in clear text.", settings.endpoint)


class OpcUaConnector:
    """See the module docstring. Construct, then ``await run(stop)``."""

    def __init__(self, settings: OpcUaSettings, sinks: SinkFactory, home: Path,
                 node_map: NodeMap | None = None) -> None:
        self.settings = settings
        self.sinks = sinks
        self.home = home
        self.node_map = node_map
        self.intake: Intake | None = None
        self.flush_stats = FlushStats()
        self.sessions = 0
        self.connected = asyncio.Event()
        self._no_history: set[int] = set()

    @property
    def pki(self) -> Pki:
        return Pki(self.settings.pki_dir or self.home / "opcua" / "pki", self.settings.trusted_dir)

    @property
    def buffer_path(self) -> Path:
        return (self.settings.buffer_dir or self.home / "opcua") / f"buffer-{self.settings.name}.db"

    @property
    def stats(self) -> IntakeStats:
        return self.intake.stats if self.intake is not None else IntakeStats()

    async def run(self, stop: asyncio.Event) -> None:
        """Ingest until ``stop`` is set (then flush what is buffered, if the database is there)."""
        check_security(self.settings)
        if self.node_map is None and self.settings.nodes_file is not None:
            self.node_map = load_node_map(self.settings.nodes_file, self.settings.default_asset_type)
        buffer = SampleBuffer(self.buffer_path).open()
        sink = self.sinks(buffer.buffer_id)
        flusher = asyncio.create_task(self._flush_loop(buffer, sink, stop))
        try:
            await self._connect_loop(buffer, stop)
        finally:
            stop.set()
            with suppress(asyncio.CancelledError):
                await flusher
            buffer.close()

    # ---------------------------------------------------------------- connections
    async def _connect_loop(self, buffer: SampleBuffer, stop: asyncio.Event) -> None:
        delay = self.settings.reconnect_min_s
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self._one_session(buffer, stop)
            except _FATAL:
                raise
            except Exception as err:  # network, server restart, timeouts: all retried
                log.warning("OPC-UA connection to %s failed: %r; retrying in %.1f s.",
                            self.settings.endpoint, err, delay)
            if stop.is_set():
                break
            if time.monotonic() - started > 30:
                delay = self.settings.reconnect_min_s
            await _sleep_or_stop(stop, delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.settings.reconnect_max_s)

    async def _one_session(self, buffer: SampleBuffer, stop: asyncio.Event) -> None:
        client, _ = await open_client(self.settings, self.pki)
        try:
            if self.intake is None:
                await self._make_intake(client, buffer)
            assert self.intake is not None
            session = Session(client, self.intake, self.settings, self._no_history)
            await session.start()
            self.sessions += 1
            self.connected.set()
            await session.watch(stop)
        finally:
            self.connected.clear()
            with suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 2.0)

    async def _make_intake(self, client, buffer: SampleBuffer) -> None:
        node_map = self.node_map
        if node_map is None:
            namespaces = await client.get_namespace_array()
            node_map = await discover(client.uaclient, self.settings.browse_root, namespaces,
                                      self.settings.default_asset_type)
            self.node_map = node_map
        limits = ClockLimits(int(self.settings.max_future_s * 1e6), int(self.settings.max_backward_s * 1e6))
        self.intake = Intake(node_map.bindings, buffer, limits)

    # ---------------------------------------------------------------- database
    async def _flush_loop(self, buffer: SampleBuffer, sink: BlockSink, stop: asyncio.Event) -> None:
        interval = self.settings.flush_interval_s
        delay, down_since = interval, None
        last_prune = time.monotonic()
        while True:
            final = stop.is_set()
            try:
                await self.flush_pending(buffer, sink)
            except Exception as err:  # database away (or refusing): keep buffering on disk
                self.flush_stats.failures += 1
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("Database unavailable (%s); buffering in %s.", _short(err), buffer.path)
                delay = min(delay * 2, self.settings.reconnect_max_s)
            else:
                if down_since is not None:
                    log.info("Database reachable again after %.0f s; buffer flushed.", time.monotonic() - down_since)
                delay, down_since = interval, None
            if final:
                return
            if time.monotonic() - last_prune > 60:
                retention_us = int(self.settings.buffer_retention_s * 1e6)
                buffer.prune(to_micros(utcnow()) - retention_us)
                last_prune = time.monotonic()
            await _sleep_or_stop(stop, delay)

    async def flush_pending(self, buffer: SampleBuffer, sink: BlockSink) -> int:
        """Write every unflushed sample to the database; returns how many were flushed."""
        done = 0
        targets = buffer.targets()
        while (block := buffer.pending(self.settings.flush_max_rows)) is not None:
            if any(t not in targets for t in block.target):
                targets = buffer.targets()
            result = await asyncio.to_thread(sink.flush, block, targets)
            buffer.mark_flushed(result.through_seq)
            s = self.flush_stats
            s.flushes += 1
            s.loaded, s.duplicates, s.quarantined = (s.loaded + result.loaded, s.duplicates + result.duplicates,
                                                      s.quarantined + result.quarantined)
            done += len(block)
        return done


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))


def _short(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return f"{type(err).__name__}: {text[:200]}"
