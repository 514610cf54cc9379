"""Where the MoE's test deficit is also a validation deficit: the strongest baselines of AI4I and
MaintNet on validation (seeds 0-2, the evaluation's own baseline code and splits), and the AI4I
per-class test F1 of the committed MoE teachers beside gradient boosting's.

The MoE's MaintNet validation figures are those of the recipe search (benchmarks/results/recipes/).

    PLANTPULSE_DATASETS=/path/to/datasets python benchmarks/validation_gaps.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from plantpulse.data.core.config.settings import load_settings
from plantpulse.pipelines.evaluate import experiments as X
from plantpulse.pipelines.evaluate.ai4i import gbm
from plantpulse.pipelines.evaluate.maintnet import tfidf_logistic
from plantpulse.pipelines.evaluate.moe import obtain, outputs
from plantpulse.pipelines.evaluate.records import BUDGETS, EvalContext
from plantpulse.pipelines.train.tasks.ai4i import CLASSES

SEEDS = (0, 1, 2)
CHECKPOINTS = Path(__file__).resolve().parents[1] / "model" / "checkpoints"


def _f1(true: np.ndarray, probs: np.ndarray, average: str | None = "macro", n: int | None = None):
    return f1_score(true, probs.argmax(1), average=average, labels=range(n) if n else None)


def main() -> None:
    root = load_settings().require_datasets_dir()
    ctx = EvalContext(root, SEEDS, BUDGETS["per-task"], Path("/tmp/validation-gaps"), CHECKPOINTS,
                      Path("/tmp/validation-gaps"), from_checkpoint=True, echo=lambda _: None)
    n = len(CLASSES)
    for seed in SEEDS:
        splits = X.bundle(ctx, "ai4i2020", seed).splits["fault:milling"]
        val, test = gbm(ctx)(splits, seed)
        spec = X.task_spec(ctx, "ai4i2020", seed)
        own = X.own_splits(ctx, spec, "ai4i2020", seed, "fault:milling")
        teacher = obtain(ctx, spec).teacher
        moe, moe_val = (outputs(teacher, part)["probs"] for part in (own.test, own.val))
        print(f"AI4I seed {seed}: validation macro-F1 gradient boosting {_f1(splits.val.targets, val, n=n):.3f}, "
              f"MoE teacher {_f1(own.val.targets, moe_val, n=n):.3f}; "
              f"test F1 per class {CLASSES}: gradient boosting "
              f"{np.round(_f1(splits.test.targets, test, None, n), 2).tolist()}, MoE teacher "
              f"{np.round(_f1(own.test.targets, moe, None, n), 2).tolist()}", flush=True)
    for seed in SEEDS:
        splits = X.bundle(ctx, "maintnet", seed).splits["system:aircraft"]
        val, _ = tfidf_logistic(splits, seed)
        print(f"MaintNet seed {seed}: TF-IDF + logistic regression validation macro-F1 "
              f"{_f1(splits.val.targets, val):.3f}", flush=True)


if __name__ == "__main__":
    main()
