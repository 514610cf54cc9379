"""A kill -9 in the middle of an ingest leaves none of the batch; running it again loads it all.

The ingest runs as the real CLI in a subprocess with small chunks; once it has logged that a few
chunks are written (inside the still-open transaction) it is killed with SIGKILL.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import Asset, IngestBatch, QuarantinedRow, SensorReading

ASSETS, HOURS, CHANNELS = 40, 2_500, 4
CHUNK_ROWS = 1_000


def _write_file(path: Path, seed: int) -> int:
    rng = np.random.default_rng(seed)
    hours = np.datetime64("2015-01-01T00:00:00") + np.arange(HOURS) * np.timedelta64(1, "h")
    stamps = np.datetime_as_string(hours, unit="s")
    with path.open("w", encoding="utf-8") as handle:
        handle.write("asset,timestamp,volt,rotate,pressure,vibration\n")
        for a in range(ASSETS):
            values = rng.normal(100, 10, (HOURS, CHANNELS)).round(4)
            handle.writelines(f"m{a:03d},{t}Z,{v[0]},{v[1]},{v[2]},{v[3]}\n" for t, v in zip(stamps, values, strict=True))
    return ASSETS * HOURS


def _cli(url: str, path: Path) -> list[str]:
    return [sys.executable, "-m", "plantpulse.pipelines.cli.main", "--db", url, "-v",
            "ingest", "sensors", str(path), "--create-assets"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTPULSE_")}
    return env | {"PLANTPULSE_INGEST__CHUNK_ROWS": str(CHUNK_ROWS)}


def _lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put(line)
    out.put(None)


def _kill_after_chunks(cmd: list[str], chunks: int, timeout: float = 120.0) -> tuple[int, list[str]]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            line = lines.get(timeout=deadline - time.monotonic())
            if line is None:
                break
            seen.append(line)
            if f"chunk {chunks} written" in line:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        if proc.poll() is None and not any(f"chunk {chunks} written" in s for s in seen):
            proc.kill()
        proc.wait(timeout=60)
    return proc.returncode, seen


def _counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {
            "readings": s.scalar(select(func.count()).select_from(SensorReading)),
            "assets": s.scalar(select(func.count()).select_from(Asset)),
            "quarantined": s.scalar(select(func.count()).select_from(QuarantinedRow)),
            "committed": s.scalar(select(func.count()).where(IngestBatch.status == "committed")),
        }


@pytest.mark.integration
@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_sigkill_mid_ingest_leaves_nothing_and_rerun_loads_everything(engine: str, tmp_path: Path,
                                                                       request: pytest.FixtureRequest) -> None:
    url = (f"sqlite:///{tmp_path / 'plant.db'}" if engine == "sqlite"
           else request.getfixturevalue("pg_database_url"))
    db = Database(url)
    db.upgrade()
    path = tmp_path / "telemetry.csv"
    rows = _write_file(path, seed=7)

    code, log = _kill_after_chunks(_cli(url, path), chunks=3)
    assert code == -signal.SIGKILL, "".join(log[-20:])
    assert not any("committed" in line for line in log)
    assert _counts(db) == {"readings": 0, "assets": 0, "quarantined": 0, "committed": 0}

    done = subprocess.run(_cli(url, path), capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Batch" in done.stdout and "committed" in done.stdout
    assert _counts(db) == {"readings": rows * CHANNELS, "assets": ASSETS, "quarantined": 0, "committed": 1}
    db.dispose()
