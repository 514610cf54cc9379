"""C-MAPSS test RMSE and PHM08 score of MoE checkpoints, computed as ``plantpulse evaluate`` scores
its per-task MoE rows (the last window of each test engine, prediction and truth clipped at the RUL
cap). For ablations of design choices: it prints test figures, so it must never choose a recipe.

    python benchmarks/cmapss_test_scores.py FD001 0 model/checkpoints/cmapss-FD001-s0-teacher.safetensors

Arguments: the subset, the seed the checkpoint was trained with (it draws the engine split) and
one or more checkpoints; every checkpoint is scored on the 50-cycle windows of that split.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its thread pool
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
from pathlib import Path


def main() -> None:
    from plantpulse.model.moe.checkpoint import load_checkpoint
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.evaluate.scoring import rul_scores
    from plantpulse.pipelines.train.tasks import build_bundle
    from plantpulse.pipelines.train.tasks.cmapss import RUL_TASK

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("subset", choices=("FD001", "FD002", "FD003", "FD004"))
    parser.add_argument("seed", type=int)
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    opts = parser.parse_args()
    test = build_bundle("cmapss", opts.datasets, seed=opts.seed, window=50,
                        subsets=[opts.subset]).splits[RUL_TASK.name].test
    for path in opts.checkpoints:
        model, _ = load_checkpoint(path)
        outs = outputs(model.eval(), test)
        scores = rul_scores(outs["mean"], outs["target"], RUL_TASK.rul_cap)
        print(f"| {path} | {opts.subset} | {opts.seed} | {len(test)} | {scores['rmse']:.3f} | {scores['phm08']:.1f} |")


if __name__ == "__main__":
    main()
