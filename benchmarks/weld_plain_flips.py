"""Validation only: the evaluation's plain CNN for the weld class, trained as the evaluation trains
it (the per-task budget's epochs and steps, seeds 0-2), with and without random image mirroring
(``StageOptions.image_flips``); prints validation macro-F1. The MoE's recipe mirrors its training
images (chosen on validation, benchmarks/recipes/weld-flips-long.txt); this says whether the
baseline beside it should too. Test data is not read.

    PLANTPULSE_DATASETS=../shared/datasets python benchmarks/weld_plain_flips.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np


def main() -> None:
    import torch

    from plantpulse.model.moe.training import StageOptions, run_finetune, seed_everything
    from plantpulse.pipelines.evaluate.moe import outputs, plain_batcher
    from plantpulse.pipelines.evaluate.records import BUDGETS
    from plantpulse.pipelines.evaluate.scoring import class_scores, plain_net_for
    from plantpulse.pipelines.train.tasks import build_bundle
    from plantpulse.pipelines.train.tasks.weld import CLASSES, WELD_TASK

    torch.set_num_threads(1)
    root = os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets")
    budget = BUDGETS["per-task"]
    for flips in (False, True):
        scores = []
        for seed in (0, 1, 2):
            splits = build_bundle("weld_surface_yolo", root, seed=seed).splits[WELD_TASK.name]
            seed_everything(seed)
            net = plain_net_for(splits)
            opts = StageOptions(epochs=budget.net_epochs, steps_per_epoch=budget.net_steps,
                                batch_size=budget.batch_size, lr=budget.lr, seed=seed, device="cpu",
                                show_progress=False, pcgrad=False, patience=3, image_flips=flips)
            run_finetune(net, [splits], opts, plain_batcher())
            probs = outputs(net.eval(), splits.val)["probs"]
            scores.append(class_scores(probs, splits.val.targets, len(CLASSES))["macro_f1"])
        print(f"image flips {flips}: validation macro-F1 " + " / ".join(f"{s:.3f}" for s in scores)
              + f", mean {np.mean(scores):.3f}")


if __name__ == "__main__":
    main()
