"""Split-conformal calibration of the RUL intervals on the validation units, after training.

The published teacher and student each get their own multiplier per RUL task (see
:mod:`plantpulse.model.moe.calibration`), computed on every validation row of the task and
again on those whose RUL is below the cap, the larger kept: for C-MAPSS the last window of
randomly cut validation engines, the shape of the test protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from plantpulse.model.moe.calibration import LEVEL, conformal_scale, entry
from plantpulse.model.moe.network import PlantPulseModel
from plantpulse.model.moe.training.data import Batcher, TaskSplits
from plantpulse.model.moe.training.validation import predict


def calibrate_rul(model: PlantPulseModel, tasks: Sequence[TaskSplits], batcher: Batcher, batch_size: int = 128,
                  level: float = LEVEL) -> dict[str, dict[str, Any]]:
    """``{task: entry}`` for every RUL task with enough finite validation predictions."""
    out: dict[str, dict[str, Any]] = {}
    for splits in tasks:
        spec, val = splits.train.task, splits.val
        if spec is None or spec.kind != "rul" or val is None or len(val) == 0:
            continue
        outs, _ = predict(model, val, batcher, batch_size)
        if not (np.isfinite(outs["mean"]).all() and np.isfinite(outs["std"]).all()):
            continue  # a diverged model keeps its (meaningless) nominal interval
        scale = conformal_scale(outs["mean"], outs["std"], outs["target"], spec.rul_cap, level)
        if scale is not None:
            out[spec.name] = entry(scale, len(val), level)
    return out
