"""Why one Azure MoE seed loses 24 h macro-F1 with a perfect PR-AUC: per component, the validation
positives, the threshold the protocol chose on validation, and the test scores on each side of it.

A diagnosis of the committed teachers, after the fact: it reads test scores and chooses nothing
(the evaluation's thresholds stay as they are). The threshold rule is
``plantpulse.model.metrics.best_f1_threshold``: the midpoint below the lowest F1-maximising
validation score, and 0.5 for a component with no validation positive.

    python benchmarks/azure_threshold_check.py            # the 3 committed teachers, about 1 min
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
from pathlib import Path

from sklearn.metrics import f1_score

from plantpulse.model.metrics import best_f1_thresholds
from plantpulse.model.moe.checkpoint import load_checkpoint
from plantpulse.pipelines.evaluate.moe import outputs
from plantpulse.pipelines.train.tasks import build_bundle

ROOT = Path(__file__).resolve().parents[1]


def check(path: Path, datasets: str) -> None:
    model, meta = load_checkpoint(path)
    extra = meta.extra
    bundle = build_bundle("azure_pdm", datasets, seed=int(extra["seed"]), image_size=model.cfg.image_size,
                          **extra["bundle_options"].get("azure_pdm", {}))
    (splits,) = bundle.splits.values()
    val, test = outputs(model, splits.val)["probs"], outputs(model, splits.test)["probs"]
    thresholds = best_f1_thresholds(val, splits.val.targets)
    print(f"\n{path.name}")
    print("| component | validation positives | threshold | test positives | lowest test positive | "
          "highest test negative | test F1 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for k, threshold in enumerate(thresholds):
        true = splits.test.targets[:, k].astype(bool)
        pos, neg = test[true, k], test[~true, k]
        print(f"| comp{k + 1} | {int(splits.val.targets[:, k].sum())} | {threshold:.4f} | {int(true.sum())} "
              f"| {pos.min() if pos.size else float('nan'):.4f} | {neg.max():.4f} "
              f"| {f1_score(true, test[:, k] >= threshold, zero_division=0.0):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="*", type=Path,
                        default=[ROOT / f"model/checkpoints/azure-sensor-text-s{s}-teacher.safetensors" for s in range(3)])
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    opts = parser.parse_args()
    for path in opts.checkpoints:
        check(path, opts.datasets)


if __name__ == "__main__":
    main()
