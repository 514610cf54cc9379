"""The live chain as separate processes: simulator -> OPC-UA ingest -> database -> scheduler.

Used by the chain test and by the end-to-end latency benchmark. Everything runs on 127.0.0.1
with free ports and a private home folder; :meth:`LiveChain.stop` ends every process it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from plantpulse.connectors.opcua.sim.replay import CMAPSS_CHANNELS
from plantpulse.data.core.resources import sample_dir
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import promote_model_version, register_model_version
from plantpulse.model.baseline.quantile_mlp import BaselineRulModel, RunToFailure

MODEL = "turbofan-baseline"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_baseline(db: Database, folder: Path, epochs: int = 5) -> Path:
    """A small baseline on the bundled C-MAPSS training engines, registered as production."""
    frame = pd.read_csv(sample_dir() / "training" / "turbofan_fd001_train.csv")
    channels = CMAPSS_CHANNELS[1:]  # settings and sensors; not the cycle counter
    runs = [RunToFailure(str(name), rows.sort_values("cycle")[list(channels)].to_numpy(np.float64))
            for name, rows in frame.groupby("asset")]
    path = BaselineRulModel(channels, asset_type="turbofan", window=30).fit(runs, epochs=epochs).save(
        folder / "turbofan-baseline.safetensors")
    with db.session() as s:
        promote_model_version(s, register_model_version(s, name=MODEL, kind="baseline", path=str(path)).id)
    return path


class LiveChain:
    """Start with :meth:`start`; the processes log into ``home/*.log``."""

    def __init__(self, home: Path, db_url: str, sim_args: list[str], env: dict[str, str] | None = None) -> None:
        self.home, self.db_url, self.sim_args = home, db_url, sim_args
        self.port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        sim_pki, ingest_pki = home / "opcua-sim" / "pki", home / "opcua" / "pki"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTPULSE_")} | {
            "PLANTPULSE_DATABASE_URL": db_url, "PLANTPULSE_HOME": str(home),
            "PLANTPULSE_OPCUA__ENDPOINT": f"opc.tcp://127.0.0.1:{self.port}/plantpulse/",
            "PLANTPULSE_OPCUA__TRUSTED_DIR": str(sim_pki / "own"),  # as in docker-compose
            "PLANTPULSE_OPCUA__PUBLISHING_INTERVAL_MS": "100", "PLANTPULSE_OPCUA__FLUSH_INTERVAL_S": "0.2",
            "PLANTPULSE_OPCUA__RECONNECT_MAX_S": "1", "PLANTPULSE_OPCUA__BACKFILL_FIRST_S": "3600",
            "PLANTPULSE_SCORING__MODEL": MODEL, "PLANTPULSE_SCHEDULER__SCORE_EVERY_S": "1",
            "PLANTPULSE_SCHEDULER__HEARTBEAT_S": "1",
        } | (env or {})
        self.sim_cmd = ["opcua-sim", "--port", str(self.port), "--sample", "--trusted-dir", str(ingest_pki / "own"),
                        *sim_args]

    def _spawn(self, name: str, args: list[str]) -> None:
        log = (self.home / f"{name}.log").open("a")
        cmd = [sys.executable, "-m", "plantpulse.pipelines.cli.main", *args]
        self.procs[name] = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def start(self, timeout: float = 60) -> LiveChain:
        self.home.mkdir(parents=True, exist_ok=True)
        self._spawn("sim", self.sim_cmd)
        deadline = time.monotonic() + timeout
        while not self._listening():
            self.check()
            if time.monotonic() > deadline:
                raise AssertionError(f"simulator did not start: {self.log('sim')}")
            time.sleep(0.1)
        self._spawn("ingest", ["opcua-ingest", "--status-every", "5"])
        self._spawn("scheduler", ["scheduler"])
        return self

    def _listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")

    def log(self, name: str) -> str:
        path = self.home / f"{name}.log"
        return path.read_text()[-4000:] if path.exists() else ""

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
