"""The evaluation's baselines on held-out validation groups: the rows that `recipe_search.py`
scores a MoE recipe on with the dataset option ``holdout`` (same seed, same share, so the same
groups). Each baseline is fitted on the training split, makes its validation choices (TF-IDF
logistic regression: C; gradient boosting: its rounds) on the other validation groups, and is
scored once on the held-out ones. Test rows are not built.

    python benchmarks/holdout_baselines.py maintnet --seeds 0 1 2 --share 0.5
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
from pathlib import Path

from plantpulse.model.metrics import accuracy, macro_f1
from plantpulse.pipelines.train.tasks import build_bundle


def maintnet(root: str, seed: int, share: float) -> dict[str, tuple]:
    from plantpulse.pipelines.evaluate.maintnet import tfidf_logistic
    splits = build_bundle("maintnet", root, seed=seed, holdout=share).splits["system:aircraft"]
    val, held = tfidf_logistic(splits, seed)
    return {"TF-IDF + logistic regression": (val, held, splits)}


BASELINES = {"maintnet": maintnet}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=sorted(BASELINES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--share", type=float, default=0.5, help="share of validation groups held out")
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    parser.add_argument("--json", type=Path, default=None)
    opts = parser.parse_args()
    rows = []
    for seed in opts.seeds:
        for label, (val, held, splits) in BASELINES[opts.dataset](opts.datasets, seed, opts.share).items():
            row = {"model": label, "seed": seed,
                   "val": {"macro_f1": round(macro_f1(val.argmax(1), splits.val.targets), 4),
                           "accuracy": round(accuracy(val.argmax(1), splits.val.targets), 4)},
                   "holdout": {"macro_f1": round(macro_f1(held.argmax(1), splits.test.targets), 4),
                               "accuracy": round(accuracy(held.argmax(1), splits.test.targets), 4)},
                   "rows": {"val": len(splits.val), "holdout": len(splits.test)}}
            rows.append(row)
            print(f"| {label} | {seed} | {row['val']['macro_f1']} | {row['holdout']['macro_f1']} |", flush=True)
    if opts.json:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
