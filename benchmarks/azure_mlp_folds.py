"""Validation only: a plain MLP (scikit-learn, two layers of 128, 3 seeds) on the 34 Azure PdM
features of the gradient-boosting baseline, on the three rolling folds of
benchmarks/recipes/azure-folds-*.txt, scored with the training code's validation metrics
(macro-F1 at 0.5, PR-AUC). The reference for what the MoE's structured-feature path adds over an
MLP on the same numbers; test data is not read.

    PLANTPULSE_DATASETS=../shared/datasets python benchmarks/azure_mlp_folds.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

FOLDS = {"f1": ("2015-02-01", "2015-02-14"), "f2": ("2015-02-14", "2015-03-01"), "f3": (None, None)}


def main() -> None:
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    from plantpulse.data.datasets import load_dataset
    from plantpulse.model import metrics as M
    from plantpulse.pipelines.train.tasks import build_bundle
    from plantpulse.pipelines.train.tasks.azure import FAILURE_TASK
    from plantpulse.pipelines.train.tasks.azure_features import baseline_features

    root = os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets")
    raw = load_dataset("azure_pdm", root)
    for name, (val_start, test_start) in FOLDS.items():
        dates = {"val_start": val_start, "test_start": test_start} if val_start else {}
        splits = build_bundle("azure_pdm", root, seed=0, structured=True, **dates).splits[FAILURE_TASK.name]
        x = [baseline_features(raw, d.sensor, d.groups, np.asarray(d.info["time"])) for d in (splits.train, splits.val)]
        scaler = StandardScaler().fit(x[0])
        train, val = scaler.transform(x[0]), scaler.transform(x[1])
        scores = []
        for seed in range(3):
            mlp = MLPClassifier((128, 128), alpha=1e-3, max_iter=300, random_state=seed)
            probs = mlp.fit(train, splits.train.targets).predict_proba(val)
            scores.append((M.macro_f1(probs >= 0.5, splits.val.targets), M.pr_auc(probs, splits.val.targets)))
        mean = np.mean(scores, axis=0)
        print(f"{name}: " + " ".join(f"{f:.3f} / {a:.3f}" for f, a in scores) + f"; mean {mean[0]:.3f} / {mean[1]:.3f}")


if __name__ == "__main__":
    main()
