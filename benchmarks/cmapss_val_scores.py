"""Validation RMSE of the evaluation's C-MAPSS teachers, every subset and seed, for two folders of
checkpoints side by side (e.g. the committed ones before and after a recipe change). Validation
only: the last window of each randomly cut validation engine, all of them (the checkpoints' own
metadata scored only the first 64), prediction and truth clipped to [0, cap] as the evaluation scores them.

    git show REV:model/checkpoints/cmapss-FD001-s0-teacher.safetensors > before/cmapss-FD001-s0-teacher.safetensors  # ...
    PLANTPULSE_DATASETS=/path/to/datasets python benchmarks/cmapss_val_scores.py before model/checkpoints
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its thread pool
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
from pathlib import Path

import numpy as np

SUBSETS, SEEDS, WINDOW, CAP = ("FD001", "FD002", "FD003", "FD004"), (0, 1, 2), 50, 125.0


def main() -> None:
    from plantpulse.model.moe.checkpoint import load_checkpoint
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.evaluate.scoring import rul_scores
    from plantpulse.pipelines.train.tasks import build_bundle
    from plantpulse.pipelines.train.tasks.cmapss import RUL_TASK

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", type=Path, nargs="+", help="folders of cmapss-FD00N-sS-teacher.safetensors")
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    opts = parser.parse_args()
    print("| subset | seed | " + " | ".join(str(f) for f in opts.folders) + " |")
    print("|---|---:|" + "---:|" * len(opts.folders))
    means: dict[str, list[list[float]]] = {}
    for subset in SUBSETS:
        for seed in SEEDS:
            val = build_bundle("cmapss", opts.datasets, seed=seed, window=WINDOW,
                               subsets=[subset]).splits[RUL_TASK.name].val
            cells = []
            for folder in opts.folders:
                model, _ = load_checkpoint(folder / f"cmapss-{subset}-s{seed}-teacher.safetensors")
                out = outputs(model.eval(), val)
                rmse = rul_scores(out["mean"], out["target"], CAP)["rmse"]
                means.setdefault(subset, [[] for _ in opts.folders])[len(cells)].append(rmse)
                cells.append(f"{rmse:.2f}")
            print(f"| {subset} | {seed} ({len(val)} rows) | " + " | ".join(cells) + " |", flush=True)
    for subset, per_folder in means.items():
        print(f"| {subset} | mean | " + " | ".join(f"**{np.mean(v):.2f}**" for v in per_folder) + " |")


if __name__ == "__main__":
    main()
