"""The weld-class gradient-boosting baseline at two image sizes, on validation only.

The MoE's weld recipe was chosen between 64 and 128 px images on the video-clip split's
validation (benchmarks/recipes/weld-clip*.txt); this gives the baseline the same choice, with the
evaluation's features (``plantpulse.model.image_features``) and boosting rounds (per-task budget).

    PLANTPULSE_DATASETS=/path/to/datasets python benchmarks/weld_gbm_image_size.py
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from plantpulse.data.core.config.settings import load_settings
from plantpulse.model.image_features import image_features
from plantpulse.pipelines.evaluate.gbm import class_probabilities
from plantpulse.pipelines.evaluate.records import BUDGETS
from plantpulse.pipelines.train.tasks import build_bundle
from plantpulse.pipelines.train.tasks.weld import CLASSES, WELD_TASK


def main() -> None:
    root = load_settings().require_datasets_dir()
    rounds = BUDGETS["per-task"].gbm_iter
    for size in (64, 128):
        scores = []
        for seed in (0, 1, 2):
            splits = build_bundle("weld_surface_yolo", root, seed=seed, image_size=size).splits[WELD_TASK.name]
            train, val = (image_features(d.images) for d in (splits.train, splits.val))
            probs = class_probabilities(train, splits.train.targets, val, splits.val.targets, val, len(CLASSES),
                                        rounds, seed)
            scores.append(f1_score(splits.val.targets, probs.argmax(1), average="macro"))
        print(f"{size} px: validation macro-F1 {' / '.join(f'{v:.3f}' for v in scores)}, "
              f"mean {np.mean(scores):.3f}", flush=True)


if __name__ == "__main__":
    main()
