"""Why FD001 validation and test can disagree: three checks, printed per seed.

1. The remaining life (capped at 125) of the validation cuts against the official test engines:
   mean, median and the share at the cap.
2. For pairs of checkpoints of that seed, the test RMSE on the engines shorter than the 50-cycle
   window (padded with their first row) and on the others.
3. Per zone of the true remaining life (0-25, ..., 100-125, at the cap): rows, bias and RMSE on
   validation and on test, for each checkpoint and (``--gbm``) gradient boosting on 30- and
   50-cycle windows fitted as the evaluation fits it; and the validation RMSE re-weighted to the
   test's rows per zone, which says how much of a validation-test gap the mix of zones explains.

For ablations only (it prints test figures); it chooses nothing.

    python benchmarks/cmapss_val_test_check.py SEED [A.safetensors B.safetensors ...] [--gbm]
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
    parser.add_argument("--gbm", action="store_true", help="also gradient boosting on 30- and 50-cycle windows")
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
    predictions: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for path in opts.checkpoints:
        model, _ = load_checkpoint(path)
        predictions[path.name] = {}
        for name, part in (("validation", splits.val), ("test", splits.test)):
            out = outputs(model.eval(), part)
            predictions[path.name][name] = (out["mean"], out["target"])
        pred, target = predictions[path.name]["test"]
        err = np.minimum(pred, CAP) - np.minimum(target, CAP)
        print(f"{path.name}: test RMSE short {np.sqrt((err[short] ** 2).mean()):.2f}, "
              f"others {np.sqrt((err[~short] ** 2).mean()):.2f}")
    if opts.gbm:
        from plantpulse.pipelines.evaluate import rul_baselines as B

        for window in (30, 50):
            own = build_bundle("cmapss", opts.datasets, seed=opts.seed, window=window,
                               subsets=["FD001"]).splits[RUL_TASK.name]
            predictions[f"gradient boosting, {window}-cycle windows"] = {
                name: (B.gbm_rul(own.train, own.val, part, 300, opts.seed, 25_000).mean,
                       np.asarray(part.targets, dtype=float).ravel())
                for name, part in (("validation", own.val), ("test", own.test))}
    for label, parts in predictions.items():
        _zones(label, parts)


ZONES = ((0, 25), (25, 50), (50, 75), (75, 100), (100, 125), (125, 126))


def _zones(label: str, parts: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Rows, bias and RMSE per zone of the true remaining life; the validation RMSE re-weighted to
    the test's rows per zone."""
    mse: dict[str, list[float]] = {}
    rows: dict[str, list[int]] = {}
    for name, (pred, target) in parts.items():
        truth, err = np.minimum(target, CAP), np.minimum(pred, CAP) - np.minimum(target, CAP)
        cells = []
        for lo, hi in ZONES:
            k = (truth >= lo) & (truth < hi)
            rows.setdefault(name, []).append(int(k.sum()))
            mse.setdefault(name, []).append(float((err[k] ** 2).mean()) if k.any() else 0.0)
            cells.append(f"{lo}-{hi if hi <= CAP else 'cap'}: n {int(k.sum())}, bias {err[k].mean():+.1f}, "
                         f"RMSE {np.sqrt((err[k] ** 2).mean()):.1f}" if k.any() else f"{lo}-{hi}: none")
        print(f"{label} {name}: RMSE {np.sqrt((err ** 2).mean()):.2f} | " + " | ".join(cells))
    weights = np.asarray(rows["test"], dtype=float) / sum(rows["test"])
    print(f"{label} validation re-weighted to the test's zones: RMSE "
          f"{np.sqrt(float((weights * np.asarray(mse['validation'])).sum())):.2f}")


if __name__ == "__main__":
    main()
