"""How many C-MAPSS validation cuts end in a short history, against the NASA test engines.

With ``min_history`` the validation engines are cut from that cycle on, so some cuts hold fewer
cycles than the window (left-padded). This prints, per subset and seed, the share of the 500
validation cuts whose history is shorter than the window, beside the number of test engines
that are. It rebuilds the cuts with the task builder's own functions (``validation_units``,
``unit_windows`` and ``validation_cuts`` of ``pipelines/train/tasks/cmapss.py``) for the subset
placed first in its bundle, as the evaluation's FD001 and FD003 cases place it. Reads no
model and no test label.

    PLANTPULSE_DATASETS=/path/to/datasets python benchmarks/cmapss_history_mix.py --subsets FD001 FD003
"""

from __future__ import annotations

import argparse
import os

import numpy as np


def main() -> None:
    from plantpulse.data.datasets import load_dataset
    from plantpulse.pipelines.train.tasks import cmapss as C

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subsets", nargs="+", default=["FD001", "FD003"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--min-history", type=int, default=20)
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    opts = parser.parse_args()
    data = load_dataset("cmapss", opts.datasets, verify="sizes", subsets=tuple(opts.subsets))
    print(f"| subset | seed | validation cuts | share under {opts.window} cycles | test engines under {opts.window} |")
    print("|---|---:|---:|---:|---:|")
    for name in opts.subsets:
        subset = data.subsets[name]
        lengths = {int(u): int((subset.train.unit == u).sum()) for u in subset.train.units}
        short_test = sum(int((subset.test.unit == u).sum()) < opts.window for u in subset.test.units)
        for seed in opts.seeds:  # index 0: the subset first in its bundle
            _, _, units, to_end = C.unit_windows(subset.train, opts.window, 1, min_history=opts.min_history)
            cut = C.validation_cuts(units, C.validation_units(subset.train, seed), C.MIN_VAL_WINDOWS, seed)
            history = np.array([lengths[int(u)] - int(t) for u, t in zip(units[cut], to_end[cut], strict=True)])
            print(f"| {name} | {seed} | {len(cut)} | {(history < opts.window).mean():.1%} | "
                  f"{short_test} of {len(subset.test.units)} |")


if __name__ == "__main__":
    main()
