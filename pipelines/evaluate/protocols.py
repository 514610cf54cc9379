"""The protocol registry and the run of a list of protocols (timed, with run metadata)."""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plantpulse.data.core.registry import Registry
from plantpulse.pipelines.evaluate.records import EvalContext, ProtocolResult


@dataclass(frozen=True)
class Protocol:
    """A named evaluation: the dataset, the task(s), one line of what it measures, its module."""

    name: str
    dataset: str
    tasks: tuple[str, ...]
    summary: str
    module: str

    def run(self, ctx: EvalContext) -> ProtocolResult:
        runner: Callable[[EvalContext], ProtocolResult] = importlib.import_module(self.module).run
        return runner(ctx)


PROTOCOLS: Registry[Protocol] = Registry("evaluation protocol")
_BASE = "plantpulse.pipelines.evaluate."
for _p in (
    Protocol("cmapss", "cmapss", ("rul:turbofan",),
             "RUL FD001-FD004, last test window, cap 125, val split by engine; RMSE, PHM08, 80 % coverage",
             _BASE + "cmapss"),
    Protocol("cwru", "cwru", ("fault:bearing",),
             "same-load (time segments), cross-load (12 pairs), unseen fault size; accuracy, macro-F1",
             _BASE + "cwru"),
    Protocol("azure_pdm", "azure_pdm", ("failure24h:machine",),
             "time split; failure in 24 h (PR-AUC, macro-F1) by modality; time to failure (C-index)",
             _BASE + "azure"),
    Protocol("maintnet", "maintnet", ("system:aircraft",),
             "system acted on, from the problem text; split by problem text; macro-F1", _BASE + "maintnet"),
    Protocol("ai4i2020", "ai4i2020", ("fault:milling",),
             "failure type from one row; split by product; macro-F1", _BASE + "ai4i"),
    Protocol("weld", "weld_surface_yolo", ("defect:weld",),
             "weld class by video-clip split; pass/fail verdict beside YOLO", _BASE + "weld"),
    Protocol("experts", "all", ("all",), "expert load per task and modality (heatmaps)", _BASE + "routing"),
):
    PROTOCOLS.add(_p.name, _p)


# the code a run's figures depend on, from the repository top (git runs in this package's folder);
# the checkpoints are the run's own output
WATCHED: tuple[str, ...] = (":(top)pipelines", ":(top)model", ":(top)data", ":(top,exclude)model/checkpoints")


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return f"{os.cpu_count()} CPU cores ({cpu}), torch {torch.__version__} with {torch.get_num_threads()} threads"


def run_protocols(ctx: EvalContext, names: list[str], command: str) -> tuple[list[ProtocolResult], dict[str, Any]]:
    """Run ``names`` in order; returns the timed results and the run's metadata."""
    started = datetime.now(UTC)
    start = time.perf_counter()
    results: list[ProtocolResult] = []
    failed: list[str] = []
    seeds = {name: ctx.budget.seeds_for(name, ctx.seeds) for name in names}
    for name in names:
        protocol = PROTOCOLS.get(name)
        ctx.echo(f"== {name}: {protocol.summary} (seeds {list(seeds[name])})")
        t0 = time.perf_counter()
        try:
            result = protocol.run(ctx if seeds[name] == ctx.seeds else replace(ctx, seeds=seeds[name]))
        except Exception as err:  # one broken protocol must not discard hours of the others' work
            if len(names) == 1:
                raise
            ctx.echo(f"== {name} FAILED: {type(err).__name__}: {err}")
            result = ProtocolResult(name, f"{name} (failed)", protocol.summary, (), (),
                                    notes=(f"This protocol failed: {type(err).__name__}: {err}",))
            failed.append(name)
        results.append(replace(result, wall_s=time.perf_counter() - t0))
        ctx.echo(f"== {name} done in {(time.perf_counter() - t0) / 60:.1f} min")
    meta = {
        "command": command, "commit": _git("rev-parse", "HEAD"), "dirty": bool(_git("status", "--porcelain", "--", *WATCHED)),
        "started": started.strftime("%Y-%m-%d %H:%M UTC"), "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_s": round(time.perf_counter() - start, 1), "machine": machine(), "seeds": list(ctx.seeds),
        "protocol_seeds": {name: list(s) for name, s in seeds.items()},
        "budget": ctx.budget.model_dump(mode="json"), "from_checkpoint": ctx.from_checkpoint,
        "protocols": names, "failed": failed,
    }
    return results, meta
