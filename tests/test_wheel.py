"""The built wheel works on its own: installed outside the checkout, the demo and the OPC-UA
simulator find their bundled sample, checkpoints and reports through the package.

The wheel is installed with ``pip install --no-deps --target DIR`` and run by the base
interpreter with ``PYTHONPATH=DIR:<site-packages>`` from a scratch folder: site-packages is
added as a plain path, so its ``.pth`` files (the editable install's finder) are not run and the
checkout cannot be found.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("wheel")
    wheels, target = work / "dist", work / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(ROOT)], check=True, cwd=work, timeout=600)
    wheel = next(wheels.glob("plantpulse-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(wheel)], check=True, cwd=work, timeout=600)
    site = sysconfig.get_paths()["purelib"]
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(work), "PYTHONPATH": f"{target}{os.pathsep}{site}",
            "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "PLANTPULSE_HOME": str(work / "home"),
            "TARGET": str(target), "WORK": str(work)}


def _python() -> str:
    return getattr(sys, "_base_executable", sys.executable)


def _env(installed: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in installed.items() if k not in {"TARGET", "WORK"}}


def _run(installed: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_python(), "-m", "plantpulse.pipelines.cli.main", *args], cwd=installed["WORK"],
                          env=_env(installed), capture_output=True, text=True, timeout=timeout)


def test_the_installed_package_is_not_the_checkout(installed: dict[str, str]) -> None:
    code = ("import plantpulse.data.core.resources as r, plantpulse.pipelines.cli.main as m;"
            "print(m.__file__); print(r.sample_dir()); print(r.checkpoints_dir()); print(r.docs_dir())")
    out = subprocess.run([_python(), "-c", code], cwd=installed["WORK"], env=_env(installed),
                         capture_output=True, text=True, check=True, timeout=120).stdout.split()
    assert all(line.startswith(installed["TARGET"]) for line in out), out
    sample, checkpoints, docs = (Path(p) for p in out[1:])
    assert (sample / "MANIFEST.json").is_file() and (sample / "sensors" / "turbofan_fd001_test.csv").is_file()
    assert any(checkpoints.glob("*.safetensors")) and (checkpoints / "README.md").is_file()
    assert (docs / "RESULTS.md").is_file() and (docs / "results.json").is_file()


def test_demo_runs_from_the_wheel(installed: dict[str, str]) -> None:
    result = _run(installed, "demo", "--no-serve")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "predictions for" in out and "images inspected" in out, out[-3000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_opcua_sim_replays_the_bundled_sample_from_the_wheel(installed: dict[str, str]) -> None:
    port = _free_port()
    proc = subprocess.Popen([_python(), "-m", "plantpulse.pipelines.cli.main", "opcua-sim", "--sample",
                             "--port", str(port), "--period", "0.05", "--max-steps", "5", "--engines", "2",
                             "--allow-insecure"], cwd=installed["WORK"], env=_env(installed),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "Replaying 2 assets from the bundled sample" in out, out[-3000:]
