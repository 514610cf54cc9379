"""Validation RMSE of C-MAPSS checkpoints per subset, for models trained on one subset or on
several pooled: each checkpoint is scored on the validation cuts of every subset it was trained on
(the last window of each randomly cut validation engine, all of them), built with the checkpoint's
own seed, window and subsets, prediction and truth clipped to [0, cap]. Validation only.
``--option key=value`` overrides one of the checkpoint's task-builder options for every checkpoint
(e.g. ``min_history=20``: score teachers trained without short histories on the validation cuts of
those trained with them, so both are compared on the same rows). ``A.safetensors+B.safetensors``
scores the mean of the members' RUL outputs (an ensemble of teachers trained on one engine split:
a ``seed`` task-builder option fixes the split apart from the training seed).

    PLANTPULSE_DATASETS=/path/to/datasets python benchmarks/cmapss_subset_val.py A.safetensors B.safetensors ...
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its thread pool
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import ast
from pathlib import Path

CAP = 125.0


def _value(field):
    """A metadata field as written (a Python literal in text) or already parsed."""
    return ast.literal_eval(field) if isinstance(field, str) else field


def main() -> None:
    from plantpulse.model.moe.checkpoint import load_checkpoint
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.evaluate.scoring import rul_scores
    from plantpulse.pipelines.train.tasks import build_bundle
    from plantpulse.pipelines.train.tasks.cmapss import RUL_TASK

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+",
                        help="C-MAPSS teacher checkpoints; A+B+... scores the mean of the members' outputs")
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="task-builder option for every checkpoint, the value a Python literal")
    opts = parser.parse_args()
    overrides = {}
    for item in opts.option:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--option {item!r}: expected KEY=VALUE, e.g. min_history=20")
        overrides[key] = ast.literal_eval(value)
    print("| checkpoint | trained on | seed | subset | validation rows | validation RMSE |")
    print("|---|---|---:|---|---:|---:|")
    for item in opts.checkpoints:
        members = [Path(p) for p in item.split("+")]
        split = None
        means = []
        for path in members:
            model, meta = load_checkpoint(path)
            extra = meta.extra
            options = {**_value(extra["bundle_options"])["cmapss"], **overrides}
            seed = int(options.pop("seed", _value(extra["seed"])))  # a split seed apart from training's
            if split is None:
                split = (seed, options)
                subsets = list(options["subsets"])
                val = build_bundle("cmapss", opts.datasets, seed=seed, **options).splits[RUL_TASK.name].val
            elif split != (seed, options):
                parser.error(f"{item}: the members were trained on different splits or options "
                             f"({split} against {(seed, options)}); an ensemble needs one split")
            out = outputs(model.eval(), val)
            means.append(out["mean"])
        mean = sum(means) / len(means)
        name = "+".join(p.name for p in members)
        for index, subset in enumerate(subsets):
            rows = (val.groups // 1000) == index
            rmse = rul_scores(mean[rows], out["target"][rows], CAP)["rmse"]
            print(f"| {name} | {'+'.join(subsets)} | {split[0]} | {subset} | {int(rows.sum())} | {rmse:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
