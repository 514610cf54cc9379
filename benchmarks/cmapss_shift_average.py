"""Validation RMSE of C-MAPSS teachers when each cut's RUL is averaged over the windows ending 0 .. k-1
cycles before the cut, each window's prediction minus its shift (test-time averaging over time).

An engine's whole history is known when it is scored, so the windows ending a few cycles earlier
are inputs a scoring path could use: RUL(t) = RUL(t - j) - j below the cap. Each checkpoint is
scored on the validation cuts of every subset it was trained on (the cuts ``cmapss_subset_val.py``
scores; the earliest window of an engine is the floor for a shift), for ``k`` in ``--shifts``, with
three ways to combine: the mean, the median, and ``mean<100`` (the mean where the unshifted
prediction is below 100 cycles, the unshifted prediction elsewhere, so that healthy engines at the
cap are not pulled down by the shift). Validation only: no test row is built.

    PLANTPULSE_DATASETS=/path/to/datasets python benchmarks/cmapss_shift_average.py A.safetensors B.safetensors ...
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its thread pool
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import ast
import dataclasses
from pathlib import Path

import numpy as np

CAP = 125.0
HEALTHY = 100.0  # ``mean<100``: unshifted predictions at or above this keep their own value


def _value(field):
    """A metadata field as written (a Python literal in text) or already parsed."""
    return ast.literal_eval(field) if isinstance(field, str) else field


def earliest_starts(datasets: str, subsets: list[str], seed: int, window: int, min_history: int,
                    val_windows: int, val_starts: np.ndarray) -> np.ndarray:
    """For each validation cut, the start of its engine's earliest window in the bundle's series
    (the floor of a shifted window), rebuilt with the task builder's own layout functions."""
    from plantpulse.data.datasets import load_dataset
    from plantpulse.pipelines.train.tasks import cmapss as C

    data = load_dataset("cmapss", datasets, verify="sizes", subsets=tuple(subsets))
    first = np.empty(len(val_starts), dtype=np.int64)
    offset = row = 0
    for index, name in enumerate(subsets):
        runs = data.subsets[name].train
        series, starts, units, _ = C.unit_windows(runs, window, 1, min_history=min_history)
        cut = C.validation_cuts(units, C.validation_units(runs, seed, index), val_windows, seed, index)
        if not np.array_equal(val_starts[row:row + len(cut)], starts[cut] + offset):
            raise SystemExit(f"{name}: the validation cuts rebuilt here differ from the bundle's; "
                             "this script follows pipelines/train/tasks/cmapss.py and needs updating with it")
        unit_first = {u: starts[units == u].min() for u in np.unique(units[cut])}
        first[row:row + len(cut)] = np.array([unit_first[u] for u in units[cut]]) + offset
        offset += len(series)
        row += len(cut)
    return first


def main() -> None:
    from plantpulse.model.moe.checkpoint import load_checkpoint
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.train.tasks import build_bundle
    from plantpulse.pipelines.train.tasks.cmapss import MIN_VAL_WINDOWS, RUL_TASK
    from plantpulse.pipelines.train.tasks.windows import WindowView

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", type=Path, nargs="+", help="C-MAPSS teacher checkpoints")
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    parser.add_argument("--shifts", type=int, nargs="+", default=[1, 3, 5, 9, 15],
                        help="numbers of windows k averaged (1: the cut's own window only)")
    opts = parser.parse_args()
    if min(opts.shifts) < 1:
        parser.error(f"--shifts {opts.shifts}: every k must be at least 1 (1 = no averaging)")
    combos = ("mean", "median", "mean<100")
    head = " | ".join(f"k={k} {c}" for k in opts.shifts for c in combos)
    print(f"| checkpoint | seed | subset | rows | {head} |")
    print("|---|---:|---|---:|" + "---:|" * (len(opts.shifts) * len(combos)))
    for path in opts.checkpoints:
        model, meta = load_checkpoint(path)
        options = dict(_value(meta.extra["bundle_options"])["cmapss"])
        seed = int(options.pop("seed", _value(meta.extra["seed"])))
        subsets = list(options["subsets"])
        val = build_bundle("cmapss", opts.datasets, seed=seed, **options).splits[RUL_TASK.name].val
        first = earliest_starts(opts.datasets, subsets, seed, int(options.get("window", 30)),
                                int(options.get("min_history", 0)),
                                int(options.get("val_windows", MIN_VAL_WINDOWS)), val.sensor.starts)
        shifted = []
        for j in range(max(opts.shifts)):
            starts = val.sensor.starts - j
            view = WindowView(val.sensor.series, np.maximum(starts, first), val.sensor.length)
            out = outputs(model.eval(), dataclasses.replace(val, sensor=view))
            shifted.append(np.where(starts >= first, out["mean"] - j, np.nan))
        preds = np.stack(shifted)  # (shift, cut); NaN where the engine's history is too short
        truth = np.clip(out["target"], 0, CAP)
        for index, subset in enumerate(subsets):
            rows = (val.groups // 1000) == index
            cells = []
            for k in opts.shifts:
                part = preds[:k, rows]
                for combo in combos:
                    pred = np.nanmedian(part, axis=0) if combo == "median" else np.nanmean(part, axis=0)
                    if combo == "mean<100":
                        pred = np.where(part[0] < HEALTHY, pred, part[0])
                    err = np.clip(pred, 0, CAP) - truth[rows]
                    cells.append(f"{float(np.sqrt(np.mean(err ** 2))):.2f}")
            print(f"| {path.name} | {seed} | {subset} | {int(rows.sum())} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
