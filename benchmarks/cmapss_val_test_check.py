"""Why FD001 validation and test can disagree: two checks, printed per seed.

1. The remaining life (capped at 125) of the validation cuts against the official test engines:
   mean, median and the share at the cap.
2. For pairs of checkpoints of that seed, the test RMSE on the engines shorter than the 50-cycle
   window (padded with their first row) and on the others.

For ablations only (it prints test figures); it chooses nothing.

    python benchmarks/cmapss_val_test_check.py SEED [A.safetensors B.safetensors ...]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
from pathlib import Path

import numpy as np

WINDOW, CAP = 50, 125.0


def main() -> None:
    from plantpulse.data.datasets import load_dataset
    from plantpulse.model.moe.checkpoint import load_checkpoint
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.train.tasks import build_bundle
    from plantpulse.pipelines.train.tasks.cmapss import RUL_TASK

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seed", type=int)
    parser.add_argument("checkpoints", type=Path, nargs="*")
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    opts = parser.parse_args()
    splits = build_bundle("cmapss", opts.datasets, seed=opts.seed, window=WINDOW, subsets=["FD001"]).splits[RUL_TASK.name]
    for name, part in (("validation", splits.val), ("test", splits.test)):
        life = np.minimum(np.asarray(part.targets, dtype=float).ravel(), CAP)
        print(f"{name}: {len(life)} rows, remaining life mean {life.mean():.1f}, median {np.median(life):.0f}, "
              f"{(life >= CAP).mean():.0%} at the cap")
    test = load_dataset("cmapss", opts.datasets, subsets=["FD001"]).subsets["FD001"].test
    lengths = {int(u): int((test.unit == u).sum()) for u in test.units}
    short = np.array([lengths[int(g) % 1000] < WINDOW for g in splits.test.groups])
    print(f"test engines shorter than {WINDOW} cycles: {int(short.sum())}")
    for path in opts.checkpoints:
        model, _ = load_checkpoint(path)
        out = outputs(model.eval(), splits.test)
        err = np.minimum(out["mean"], CAP) - np.minimum(out["target"], CAP)
        print(f"{path.name}: test RMSE short {np.sqrt((err[short] ** 2).mean()):.2f}, "
              f"others {np.sqrt((err[~short] ** 2).mean()):.2f}")


if __name__ == "__main__":
    main()
