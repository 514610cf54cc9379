"""AI4I 2020 milling machine: failure-type diagnosis from one row of process measurements.

Each row (a distinct product) becomes a window of length 1 over 8 channels: the five
measurements and the product quality type one-hot (L/M/H). Label: ``no_failure`` or the failure
mode (TWF, HDF, PWF, OSF, RNF); rows with several modes take the first in that order (24 rows);
a mode flag without the machine-failure flag still counts as that mode (18 RNF rows). The 9 rows
with a machine failure but no mode flag have no diagnosable label and are left out of this task
(reported in ``notes``). Splits are stratified by label, by product (= row).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plantpulse.data.datasets import load_dataset
from plantpulse.data.datasets.ai4i import FEATURES, MODES
from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.training.data import TaskData, TaskSplits
from plantpulse.pipelines.train.tasks.base import TaskBundle
from plantpulse.pipelines.train.tasks.splits import Standardizer, split_groups

ASSET = "milling"
TYPES: tuple[str, ...] = ("L", "M", "H")
CHANNELS: tuple[str, ...] = (*FEATURES, *(f"Type {t}" for t in TYPES))
DERIVED: tuple[str, ...] = ("Power [W]", "Temperature difference [K]", "Tool wear x torque [min Nm]")
CLASSES: tuple[str, ...] = ("no_failure", *MODES)
FAULT_TASK = TaskSpec(name=f"fault:{ASSET}", kind="classification", classes=CLASSES)


def failure_labels(machine_failure: np.ndarray, modes: np.ndarray) -> np.ndarray:
    """Class index per row; -1 for 'failed, mode unknown' rows."""
    has_mode = modes.any(1)
    labels = np.where(has_mode, modes.argmax(1) + 1, 0)
    return np.where((machine_failure == 1) & ~has_mode, -1, labels)


def derived_features(features: np.ndarray) -> np.ndarray:
    """(N, 3) in original units from the five measurements: power (W) = torque · speed · 2π/60,
    process − air temperature, tool wear × torque: the quantities the dataset's failure rules are
    written in (Matzka 2020: HDF below 8.6 K and 1380 rpm, PWF outside 3500–9000 W, OSF above
    11,000–13,000 min·Nm by quality type)."""
    col = {name: features[:, i].astype(np.float64) for i, name in enumerate(FEATURES)}
    torque = col["Torque [Nm]"]
    return np.stack([torque * col["Rotational speed [rpm]"] * 2 * np.pi / 60,
                     col["Process temperature [K]"] - col["Air temperature [K]"],
                     col["Tool wear [min]"] * torque], axis=1).astype(np.float32)


def build(root: Path | str, *, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
          seed: int = 0, verify: str = "sizes", derived: bool = False, structured: bool = False,
          **_: object) -> TaskBundle:
    """``derived``: also give the model power, temperature difference and wear × torque as
    channels (what the gradient-boosting baseline is given). ``structured``: the row goes in as
    structured features (one token per column with its own weight, ``TaskData.features``)
    instead of a one-step sensor window; a table has nothing to pre-train on then."""
    data = load_dataset("ai4i2020", root, verify=verify)
    labels = failure_labels(data.machine_failure, data.modes)
    keep = labels >= 0
    onehot = (data.product_type[:, None] == np.array(TYPES)[None, :]).astype(np.float32)
    parts = [data.features, onehot, *([derived_features(data.features)] if derived else [])]
    channels = (*CHANNELS, *DERIVED) if derived else CHANNELS
    table = np.concatenate(parts, axis=1)[keep]
    labels, groups = labels[keep], data.udi[keep]
    masks = split_groups(groups, fractions, seed, stratify=labels)
    scaler = Standardizer.fit(table[masks[0]], channels)
    values = scaler.apply(table)[:, None, :]  # (N, 1, channels)
    inputs = [dict(features=values[m, 0], feature_names=channels) if structured else
              dict(sensor=values[m], channels=channels) for m in masks]
    splits = [TaskData(name=f"ai4i_{split}", task=FAULT_TASK, groups=groups[m], targets=labels[m], **given)
              for split, m, given in zip(("train", "val", "test"), masks, inputs, strict=True)]
    notes = {"rows_without_mode_left_out": int((~keep).sum()),
             "label_counts": dict(zip(CLASSES, np.bincount(labels, minlength=len(CLASSES)).tolist(), strict=True))}
    pretrain = () if structured else (TaskData(name="ai4i_pretrain", task=None, groups=splits[0].groups,
                                               sensor=splits[0].sensor, channels=channels),)
    return TaskBundle("ai4i2020", {FAULT_TASK.name: TaskSplits(*splits)}, pretrain,
                      {ASSET: scaler.to_dict()}, notes)
