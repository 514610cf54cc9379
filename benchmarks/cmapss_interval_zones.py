"""Which validation units the 80 % RUL interval covers, calibrated on every unit (the earlier
rule), on the units below the cap alone, or with the larger of the two multipliers (the current
rule). Validation only: it reads no test engine.

For each C-MAPSS checkpoint, on its own validation cuts (all subsets it was trained on; the
split, window and options it records), the interval ``p ± q·std`` with ``q`` from each rule
(the current one is :func:`plantpulse.model.moe.calibration.conformal_scale`). Printed: ``q``, coverage of the units at the cap, below the cap and at
75-125 cycles of true life, the mean width; and the same out of sample, by a 2-fold split of the
validation engines (calibrate on one half, cover the other, both ways, pooled).

    PLANTPULSE_DATASETS=/path/to/datasets python benchmarks/cmapss_interval_zones.py model/checkpoints/cmapss-FD00?-s?-teacher.safetensors
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its thread pool
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import math
from pathlib import Path

import numpy as np

CAP, LEVEL = 125.0, 0.8


def every_unit(mean: np.ndarray, std: np.ndarray, target: np.ndarray) -> float:
    """The earlier rule: split conformal over every validation unit, the capped ones included."""
    scores = np.abs(np.clip(target, 0, CAP) - np.clip(mean, 0, CAP)) / np.maximum(std, 1e-6)
    return float(np.sort(scores)[math.ceil((len(scores) + 1) * LEVEL) - 1])


def below_cap(mean: np.ndarray, std: np.ndarray, target: np.ndarray) -> float:
    """Split conformal over the units below the cap alone."""
    keep = target < CAP
    return every_unit(mean[keep], std[keep], target[keep])


def covered(mean, std, target, scale) -> tuple[np.ndarray, np.ndarray]:
    from plantpulse.model.moe.calibration import rul_interval

    _, lower, upper = rul_interval(mean, std, CAP, scale)
    truth = np.clip(target, 0, CAP)
    return (truth >= lower) & (truth <= upper), upper - lower


def main() -> None:
    from plantpulse.model.moe.calibration import conformal_scale
    from plantpulse.model.moe.checkpoint import load_checkpoint
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.train.tasks import build_bundle
    from plantpulse.pipelines.train.tasks.cmapss import RUL_TASK

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", type=Path, nargs="+", help="C-MAPSS checkpoints")
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    opts = parser.parse_args()
    rules = {"every unit (earlier)": every_unit, "below the cap alone": below_cap,
             "the larger (current)": lambda m, s, t: conformal_scale(m, s, t, CAP)}
    print("| checkpoint | rule | q | at the cap | below the cap | 75–125 cycles | mean width | "
          "2-fold: below the cap | 2-fold: all |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for path in opts.checkpoints:
        model, meta = load_checkpoint(path)
        extra = meta.extra
        options, seed = extra["bundle_options"]["cmapss"], int(extra["seed"])
        val = build_bundle("cmapss", opts.datasets, seed=seed, **options).splits[RUL_TASK.name].val
        out = outputs(model.eval(), val)
        mean, std, target = (np.asarray(out[k], dtype=np.float64) for k in ("mean", "std", "target"))
        capped, zone = target >= CAP, (target >= 75) & (target < CAP)
        engines = np.unique(val.groups)
        half = np.isin(val.groups, np.random.default_rng(seed).permutation(engines)[: len(engines) // 2])
        for rule, scale_of in rules.items():
            q = scale_of(mean, std, target)
            hit, width = covered(mean, std, target, q)
            folds = np.zeros(len(target), dtype=bool)
            for fit in (half, ~half):
                hit_out, _ = covered(mean[~fit], std[~fit], target[~fit],
                                     scale_of(mean[fit], std[fit], target[fit]))
                folds[~fit] = hit_out
            print(f"| {path.name} | {rule} | {q:.3f} | {100 * hit[capped].mean():.1f} % | "
                  f"{100 * hit[~capped].mean():.1f} % | {100 * hit[zone].mean():.1f} % | {width.mean():.1f} | "
                  f"{100 * folds[~capped].mean():.1f} % | {100 * folds.mean():.1f} % |", flush=True)


if __name__ == "__main__":
    main()
