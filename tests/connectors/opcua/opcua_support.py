"""OPC-UA test helpers: a simulator subprocess, the connector in a thread, a TCP relay, checks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from plantpulse.connectors.opcua.connector import OpcUaConnector
from plantpulse.connectors.opcua.security import Pki
from plantpulse.connectors.opcua.sim.server import APPLICATION_URI
from plantpulse.data.core.config.opcua import OpcUaSettings
from plantpulse.data.core.times import to_micros
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import Asset, Channel, QuarantinedRow, SensorReading


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class SimProcess:
    """``plantpulse opcua-sim`` as a subprocess on a loopback port; kill -9 and restart at will."""

    def __init__(self, home: Path, port: int, args: list[str], env: dict[str, str]) -> None:
        self.home, self.port, self.args, self.env = home, port, args, env
        self.proc: subprocess.Popen | None = None
        self.log = home / "sim.log"

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/plantpulse/"

    @property
    def state_dir(self) -> Path:
        return self.home / "opcua-sim"

    def start(self, timeout: float = 30) -> SimProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTPULSE_")} | self.env
        cmd = [sys.executable, "-m", "plantpulse.pipelines.cli.main", "--home", str(self.home), "opcua-sim",
               "--port", str(self.port), "--sample", *self.args]
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for(self._listening, timeout, f"the simulator on port {self.port} (log: {self.log})")
        return self

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"simulator exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def kill(self) -> None:
        """SIGKILL: no goodbye to clients, no chance to flush anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def steps(self) -> int:
        path = self.state_dir / "simulator.db"
        if not path.exists():
            return 0
        with sqlite3.connect(path) as conn:
            row = conn.execute("SELECT value FROM state WHERE key = 'next_tick'").fetchone()
        return int(row[0]) if row else 0

    def history(self) -> list[tuple[str, int, str, object, int, str | None]]:
        """(node key, ts_us, kind, value, status, fault) of everything the simulator published."""
        with sqlite3.connect(self.state_dir / "simulator.db") as conn:
            return conn.execute("SELECT n.node, h.ts_us, h.kind, h.value, h.status, h.fault FROM history h "
                                "JOIN nodes n ON n.id = h.node ORDER BY h.ts_us, n.node").fetchall()




def make_sim(sims: list[SimProcess], home: Path, args: list[str] | None = None,
             env: dict[str, str] | None = None, port: int | None = None) -> SimProcess:
    sim = SimProcess(home, port or free_port(), args or [], env or {})
    sims.append(sim)
    return sim


def cross_trust(sim_home: Path, client_pki: Path) -> None:
    """Create both identities and let each side trust the other (as an administrator would)."""
    async def identities() -> tuple[Path, Path]:
        server, _ = await Pki(sim_home / "opcua-sim" / "pki").ensure_identity(APPLICATION_URI, server=True)
        client, _ = await Pki(client_pki).ensure_identity(OpcUaSettings().application_uri, server=False)
        return server, client

    server_cert, client_cert = asyncio.run(identities())
    (sim_home / "opcua-sim" / "pki" / "trusted" / "client.der").write_bytes(client_cert.read_bytes())
    (client_pki / "trusted" / "server.der").write_bytes(server_cert.read_bytes())


class ConnectorThread:
    """Runs ``OpcUaConnector.run`` on its own event loop in a thread."""

    def __init__(self, connector: OpcUaConnector) -> None:
        self.connector = connector
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def body() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            await self.connector.run(self._stop)

        try:
            asyncio.run(body())
        except BaseException as err:
            self.error = err

    def start(self) -> ConnectorThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError("connector did not stop")

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)




def settings_for(endpoint: str, pki: Path, **extra: object) -> OpcUaSettings:
    """Fast-reacting connector settings for loopback tests."""
    base: dict[str, object] = {
        "endpoint": endpoint, "pki_dir": pki, "publishing_interval_ms": 100.0, "reconnect_min_s": 0.2,
        "reconnect_max_s": 1.0, "flush_interval_s": 0.2, "request_timeout_s": 3.0, "backfill_first_s": 3600.0,
    }
    return OpcUaSettings.model_validate(base | extra)


class TcpProxy:
    """A loopback TCP relay that can be cut (every connection dropped, new ones refused) and restored."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    stop = cut


def stored(db: Database) -> tuple[dict[tuple[str, int], float], list[tuple[str, int, str]]]:
    """Readings as {(asset/channel, ts_us): value} and quarantined rows as (node key, ts_us, reason)."""
    with db.session() as s:
        rows = s.execute(select(Asset.name, Channel.name, SensorReading.ts, SensorReading.value)
                         .join(Asset, Asset.id == SensorReading.asset_id)
                         .join(Channel, Channel.id == SensorReading.channel_id)).all()
        readings = {}
        for asset, channel, ts, value in rows:
            key = (f"{asset}/{channel}", to_micros(ts))
            assert key not in readings, f"duplicate reading {key}"
            readings[key] = value
        bad = []
        for source, reason, raw in s.execute(select(QuarantinedRow.source, QuarantinedRow.reason, QuarantinedRow.raw)):
            ts = json.loads(raw)["source_ts"]
            bad.append((source.split(";s=", 1)[1], to_micros(datetime.fromisoformat(ts)), reason))
    return readings, bad


def check_against_simulator(sim: SimProcess, db: Database) -> tuple[int, int]:
    readings, bad = stored(db)
    published = sim.history()
    good = {(node, ts): value for node, ts, kind, value, status, fault in published if fault is None}
    faulty = {(node, ts): fault for node, ts, kind, value, status, fault in published if fault is not None}
    assert set(readings) == set(good), (
        f"lost {len(set(good) - set(readings))}, unexpected {len(set(readings) - set(good))}")
    mismatched = [k for k, v in good.items() if not math.isclose(readings[k], v, rel_tol=0, abs_tol=0)]
    assert not mismatched, f"values differ at {mismatched[:5]}"
    bad_keys = [(node, ts) for node, ts, _ in bad]
    assert len(bad_keys) == len(set(bad_keys)), "a refused value was quarantined twice"
    assert set(bad_keys) == set(faulty), f"quarantine differs: {set(faulty) ^ set(bad_keys)}"
    return len(good), len(faulty)
