"""Run the PlantPulse benchmarks one after another (what ``make bench`` calls).

    python -m benchmarks.run_all                    # every benchmark with the documented settings
    python -m benchmarks.run_all --quick            # smaller sizes: a smoke run in minutes
    python -m benchmarks.run_all --only ingest,model
    python -m benchmarks.run_all --list

Each benchmark runs as its own process (so one's threads, caches and memory do not leak into the
next) with the arguments that produced the figures in docs/benchmarks.md. Output goes to the
terminal and to ``benchmarks/results/run_all/<name>.log``; a summary with each benchmark's exit
status and wall time is printed at the end. The exit status is non-zero when any benchmark
failed. Benchmarks that need something this machine lacks (PostgreSQL for ``dashboard``, the
full datasets for ``weld``) are skipped with the reason, unless named with ``--only``.

Run on an otherwise idle machine: the figures are wall-clock times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "benchmarks" / "results" / "run_all"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _postgres() -> str | None:
    return os.environ.get("PLANTPULSE_BENCH_POSTGRES_URL")


def _datasets() -> str | None:
    value = os.environ.get("PLANTPULSE_DATASETS")
    return value if value and Path(value).is_dir() else None


def _chromium() -> bool:
    return shutil.which("chromium") is not None and shutil.which("chromedriver") is not None


@dataclass(frozen=True)
class Bench:
    """One benchmark: its script, the documented arguments, the quick ones, what it needs."""

    name: str
    script: str
    full: Callable[[], list[str]]
    quick: Callable[[], list[str]] | None  # None: left out of quick runs
    needs: Callable[[], str | None] = lambda: None  # a reason to skip, or None


def _ingest_args(rows: int, runs: int) -> list[str]:
    pg = _postgres()
    engines = "sqlite,postgresql" if pg else "sqlite"
    return ["--rows", str(rows), "--runs", str(runs), "--engines", engines, *(["--postgres", pg] if pg else [])]


BENCHES: tuple[Bench, ...] = (
    Bench("ingest", "bench_ingest.py", lambda: _ingest_args(1_000_000, 3), lambda: _ingest_args(50_000, 1)),
    Bench("model", "bench_model.py", lambda: [], lambda: ["--quick"]),
    Bench("score", "bench_score.py", lambda: ["--assets", "2000", "--workers", "2", "--repeats", "3"],
          lambda: ["--assets", "200", "--repeats", "1", "--no-ray"]),
    Bench("opcua", "bench_opcua.py", lambda: ["--rate", "8000", "--seconds", "60"],
          lambda: ["--rate", "2000", "--seconds", "10"]),
    Bench("latency", "bench_latency.py", lambda: ["--seconds", "60"], lambda: ["--seconds", "20"]),
    Bench("dashboard", "bench_dashboard.py", lambda: ["--pg", _postgres() or DEFAULT_PG, "--runs", "7"],
          lambda: ["--pg", _postgres() or DEFAULT_PG, "--runs", "1"],
          needs=lambda: None if _postgres() and _chromium() else
          "needs PLANTPULSE_BENCH_POSTGRES_URL and headless Chromium (make chromium)"),
    Bench("shipped-cmapss", "bench_shipped.py", lambda: ["cmapss"], lambda: ["cmapss", "--repeats", "1"],
          needs=lambda: None if _datasets() else "needs PLANTPULSE_DATASETS (C-MAPSS)"),
    Bench("shipped-cwru", "bench_shipped.py", lambda: ["cwru", "--repeats", "3"], lambda: ["cwru", "--repeats", "1"],
          needs=lambda: None if _datasets() else "needs PLANTPULSE_DATASETS (CWRU)"),
    # The weld scripts write the committed results in benchmarks/results/weld/: no quick version.
    Bench("weld-evaluate", "bench_weld.py", lambda: ["evaluate"], None,
          needs=lambda: None if _datasets() else "needs PLANTPULSE_DATASETS (the weld images)"),
    Bench("weld-latency", "bench_weld.py", lambda: ["latency"], None,
          needs=lambda: None if _datasets() else "needs PLANTPULSE_DATASETS (the weld images)"),
)
NAMES = [b.name for b in BENCHES]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="benchmarks: " + ", ".join(NAMES) + "\n\nThe training-length weld "
                                     "runs (bench_weld.py original / transfer, about an hour each) are not "
                                     "part of this list; run them on their own.")
    parser.add_argument("--quick", action="store_true", help="small sizes: checks that every benchmark runs")
    parser.add_argument("--only", default=None, help="comma-separated names (see below)")
    parser.add_argument("--list", action="store_true", help="print the commands and exit")
    args = parser.parse_args(argv)
    if args.only:
        unknown = sorted(set(args.only.split(",")) - set(NAMES))
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    chosen = [b for b in BENCHES if not args.only or b.name in args.only.split(",")]
    LOGS.mkdir(parents=True, exist_ok=True)
    summary: list[tuple[str, str, float]] = []
    for bench in chosen:
        if args.quick and bench.quick is None:
            summary.append((bench.name, "skipped: no quick version", 0.0))
            continue
        extra = bench.quick() if args.quick and bench.quick else bench.full()
        cmd = [sys.executable, str(Path("benchmarks") / bench.script), *extra]
        if args.list:
            print(f"{bench.name}: python {' '.join(cmd[1:])}")
            continue
        reason = bench.needs()
        if reason and not args.only:
            summary.append((bench.name, f"skipped: {reason}", 0.0))
            continue
        print(f"\n=== {bench.name}: {' '.join(cmd[1:])}", flush=True)
        start = time.perf_counter()
        with (LOGS / f"{bench.name}.log").open("w", encoding="utf-8") as log:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
            rc = proc.wait()
        summary.append((bench.name, "ok" if rc == 0 else f"FAILED (exit {rc})", time.perf_counter() - start))
    if args.list:
        return 0
    print("\nbenchmark        status                                   wall")
    for name, status, wall in summary:
        print(f"{name:<16} {status:<40} {wall:7.1f} s")
    print(f"logs: {LOGS.relative_to(ROOT)}/")
    return 1 if any(s.startswith("FAILED") for _, s, _ in summary) else 0


if __name__ == "__main__":
    raise SystemExit(main())
