"""``plantpulse opcua-sim``: an OPC-UA server that replays real data, with history and security.

Address space (namespace ``urn:plantpulse:sim``)::

    Objects/PlantPulse/<folder>/<asset>/<channel>     e.g. .../FD001/turbofan-fd001-test-001/s_2

Each asset object carries an ``AssetType`` property; each channel variable ``EURange`` (the
dataset's span, widened) and, for waveforms, ``SampleRateHz``. Every ``period`` seconds all
assets advance one step (one C-MAPSS cycle, one block of CWRU samples). Each step is first
committed to the simulator's store (its history and its own record of what it published), then
written to the address space; a restarted simulator resumes at the next step.

Optional fault injection (``faults`` = probability per value) publishes bad and uncertain status
codes, NaN, strings, out-of-range values and clock jumps, recorded with their kind, so tests can
check that a client quarantines exactly those.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

from plantpulse.connectors.opcua.security import Pki, TrustList
from plantpulse.connectors.opcua.sim.replay import ReplayAsset
from plantpulse.connectors.opcua.sim.store import HistoryRow, SimStore, pack_array, variant
from plantpulse.connectors.opcua.sim.values import datavalue, fleet_ranges, inject, publish, shared_datavalues
from plantpulse.data.core.times import to_micros, utcnow

log = logging.getLogger(__name__)

NAMESPACE = "urn:plantpulse:sim"
APPLICATION_URI = "urn:plantpulse:opcua-sim"
FAULT_KINDS = ("bad_status", "uncertain", "nan", "wrong_type", "out_of_range", "clock_jump")


@dataclass(frozen=True, slots=True)
class SimConfig:
    """How the simulator serves: address, pace, security and where it keeps state."""

    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 4840
    path: str = "/plantpulse/"
    period_s: float = 1.0
    loop: bool = False
    faults: float = 0.0
    seed: int = 0
    allow_insecure: bool = False
    trusted_dir: Path | None = None
    username: str | None = None
    password: str | None = None
    history_hours: float = 24.0
    max_steps: int | None = None  # stop advancing after this many steps (keeps serving history)

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}{self.path}"


class _Users(UserManager):
    """Accepts exactly the configured user (anonymous only when no password is configured)."""

    def __init__(self, username: str | None, password: str | None) -> None:
        self.username, self.password = username or "", password

    def get_user(self, iserver, username=None, password=None, certificate=None) -> User | None:
        if self.password is None:
            return User(role=UserRole.User)
        ok_user = hmac.compare_digest((username or "").encode(), self.username.encode())
        ok_pass = hmac.compare_digest((password or "").encode(), self.password.encode())
        return User(role=UserRole.User, name=username) if ok_user and ok_pass else None


def _node(identifier: str, idx: int) -> ua.NodeId:
    """A string NodeId in namespace ``idx``; asyncua types NodeId fields as its wire-type classes."""
    return ua.NodeId(ua.String(identifier), ua.Int16(idx))


@dataclass(slots=True)
class _Channel:
    key: str
    node_id: ua.NodeId
    store_id: int
    high: float
    span: float


class OpcUaSimulator:
    """Construct with a config and replay assets, then ``await run(stop)``."""

    def __init__(self, config: SimConfig, assets: list[ReplayAsset]) -> None:
        self.config = config
        self.assets = assets
        self.store = SimStore(config.state_dir / "simulator.db")
        self.server: Server | None = None
        self.channels: list[list[_Channel]] = []
        self.published = 0

    @property
    def pki(self) -> Pki:
        return Pki(self.config.state_dir / "pki", self.config.trusted_dir)

    async def _secure(self, server: Server) -> None:
        cert, key = await self.pki.ensure_identity(APPLICATION_URI, server=True)
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        policies = [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt, ua.SecurityPolicyType.Basic256Sha256_Sign]
        if self.config.allow_insecure:
            policies.append(ua.SecurityPolicyType.NoSecurity)
            log.warning("INSECURE endpoint enabled on %s (--allow-insecure): clients may connect without "
                        "signing or encryption.", self.config.endpoint)
        server.set_security_policy(policies)
        server.set_certificate_validator(TrustList(self.pki, peer_is_server=False).validate)
        if self.config.password is not None:
            server.set_identity_tokens([ua.UserNameIdentityToken])
        else:
            log.warning("No OPC-UA password configured (PLANTPULSE_OPCUA__PASSWORD): anonymous clients are accepted.")

    async def _build(self, server: Server) -> None:
        idx = await server.register_namespace(NAMESPACE)
        root = await server.nodes.objects.add_folder(_node("PlantPulse", idx), ua.QualifiedName("PlantPulse", idx))
        folders = {}
        self._ranges = fleet_ranges(self.assets)
        for asset in self.assets:
            if asset.folder not in folders:
                folders[asset.folder] = await root.add_folder(_node(f"PlantPulse/{asset.folder}", idx),
                                                              ua.QualifiedName(asset.folder, idx))
            self.channels.append(await self._add_asset(folders[asset.folder], asset, idx))

    async def _add_asset(self, folder, asset: ReplayAsset, idx: int) -> list[_Channel]:
        obj = await folder.add_object(_node(asset.name, idx), ua.QualifiedName(asset.name, idx))
        await obj.add_property(_node(f"{asset.name}/AssetType", idx), ua.QualifiedName("AssetType", idx),
                               asset.asset_type)
        out = []
        for name in asset.channels:
            key = f"{asset.name}/{name}"
            lo, hi, span = self._ranges[(asset.asset_type, name)]
            initial = ua.Variant([0.0] * asset.block if asset.block else 0.0, ua.VariantType.Double,
                                 is_array=bool(asset.block))
            var = await obj.add_variable(_node(key, idx), ua.QualifiedName(name, idx), initial)
            await var.add_property(_node(f"{key}/EURange", idx), ua.QualifiedName("EURange", 0),
                                   ua.Range(lo - span, hi + span))
            if asset.sample_rate_hz:
                await var.add_property(_node(f"{key}/SampleRateHz", idx), ua.QualifiedName("SampleRateHz", idx),
                                       float(asset.sample_rate_hz))
            out.append(_Channel(key, var.nodeid, self.store.register(key, var.nodeid), hi + span, span))
        return out

    async def _restore(self, server: Server) -> None:
        """Start from the last published values (a restart must not publish fake ones)."""
        last = self.store.last_values()
        for channels in self.channels:
            for ch in channels:
                row = last.get(ch.store_id)
                if row is None:
                    dv = ua.DataValue(ua.Variant(None, ua.VariantType.Null),
                                      StatusCode=ua.StatusCode(ua.UInt32(ua.StatusCodes.BadWaitingForInitialData)),
                                      ServerTimestamp=utcnow())
                else:
                    ts_us, kind, value, status = row
                    dv = datavalue(variant(kind, value), status, ts_us)
                await publish(server, ch.node_id, dv)

    # ---------------------------------------------------------------- replay
    def _step_of(self, asset: ReplayAsset, tick: int) -> int | None:
        if self.config.max_steps is not None and tick >= self.config.max_steps:
            return None
        if tick < asset.steps:
            return tick
        return tick % asset.steps if self.config.loop and asset.steps else None

    def _faults(self, tick: int, asset_index: int, n: int) -> list[str | None]:
        """Deterministic per (seed, step, asset): a restarted simulator injects the same faults."""
        if self.config.faults <= 0:
            return [None] * n
        rng = np.random.default_rng([self.config.seed, tick, asset_index])
        hit = rng.random(n) < self.config.faults
        kinds = rng.integers(0, len(FAULT_KINDS), n)
        return [FAULT_KINDS[k] if h else None for h, k in zip(hit, kinds, strict=True)]

    def _values(self, tick: int, ts_us: int) -> tuple[list[HistoryRow], list[tuple[ua.NodeId, ua.DataValue]]]:
        rows: list[HistoryRow] = []
        writes = []
        now = utcnow()
        for a, (asset, channels) in enumerate(zip(self.assets, self.channels, strict=True)):
            step = self._step_of(asset, tick)
            if step is None:
                continue
            values = asset.step(step)
            if asset.block:
                ch = channels[0]
                rows.append((ch.store_id, ts_us, "a", pack_array(values.tolist()), 0, None))
                writes.append((ch.node_id, datavalue(variant("a", rows[-1][3]), 0, ts_us, now)))
                continue
            faults = self._faults(tick, a, len(channels))
            for ch, value, fault in zip(channels, values.tolist(), faults, strict=True):
                kind, out, status, at = inject(fault, value, ch.high, ch.span, ts_us)
                rows.append((ch.store_id, at, kind, out, status, fault))
                writes.append((ch.node_id, datavalue(variant(kind, out), status, at, now)))
        return rows, writes

    async def _tick(self, server: Server, tick: int, ts_us: int) -> int:
        rows, writes = self._values(tick, ts_us)
        self.store.record(rows, {"next_tick": str(tick + 1), "last_ts_us": str(ts_us)})
        for node_id, dv in writes:
            await publish(server, node_id, dv)
        self.published += len(writes)
        return len(writes)

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        with shared_datavalues():
            await self._run(stop, ready)

    async def _run(self, stop: asyncio.Event, ready: asyncio.Event | None) -> None:
        self.store.open()
        server = Server()
        await server.init()
        server.set_endpoint(self.config.endpoint)
        server.set_server_name("PlantPulse OPC-UA simulator")
        await server.set_application_uri(APPLICATION_URI)
        server.iserver.history_manager.set_storage(self.store)
        server.iserver.user_manager = _Users(self.config.username, self.config.password)
        await self._secure(server)
        await self._build(server)
        await self._restore(server)
        async with server:
            self.server = server
            log.info("OPC-UA simulator listening on %s: %d assets, %d nodes, one step every %.3g s.",
                     self.config.endpoint, len(self.assets), sum(map(len, self.channels)), self.config.period_s)
            if ready is not None:
                ready.set()
            await self._replay(server, stop)
        await self.store.stop()

    async def _replay(self, server: Server, stop: asyncio.Event) -> None:
        tick = int(self.store.get_state("next_tick", "0") or 0)
        last_us = int(self.store.get_state("last_ts_us", "0") or 0)
        if tick:
            log.info("Resuming the replay at step %d.", tick)
        next_at = time.monotonic()
        last_prune, finished = time.monotonic(), False
        while not stop.is_set():
            ts_us = max(to_micros(utcnow()) // 1000 * 1000, last_us + 1000)
            if await self._tick(server, tick, ts_us):
                tick, last_us = tick + 1, ts_us
            elif not finished:
                finished = True
                log.info("Replay finished after %d steps (use --loop to start over); serving history.", tick)
            if time.monotonic() - last_prune > 60:
                self.store.prune(timedelta(hours=self.config.history_hours))
                last_prune = time.monotonic()
            next_at += self.config.period_s
            delay = next_at - time.monotonic()
            if delay < -self.config.period_s:  # fell behind: do not try to catch up in a burst
                next_at, delay = time.monotonic(), 0.0
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, delay))
            except TimeoutError:
                pass
