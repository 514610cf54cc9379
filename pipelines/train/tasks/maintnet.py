"""MaintNet aviation logbook: which system was worked on, predicted from the problem text alone.

Labelling (documented so results can be judged): the *action* text is lower-cased, split into
words, and the first matching system in the priority order of :data:`SYSTEMS` names the label;
keywords come from the MaintNet term bank (baffle, cylinder, gasket, magnetos, battery,
alternator, exhaust, …) plus their usual abbreviations in the logbook (cyl, mag, r/h …).
Actions with no keyword are ``other``. Landing gear is no class: the logbook holds two such
actions (a brake lining, tyre pressures), too few to learn or score, so they are ``other``; the
bare word "gear", its keyword until now, named engine gears in 8 of the 10 actions it labelled
(starter ring gear, crankshaft and idler gears), so it is no keyword of any system. Nor is "wire":
it named baffle tie, tension and safety wires in 21 of the 24 actions it labelled electrical
("wiring" stays). The model sees only the *problem* text. Identical problem
texts (the same problem logged on several rows for a multi-step repair) are one group, so a
problem never appears in two splits.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from plantpulse.data.core.errors import ConfigError
from plantpulse.data.datasets import load_dataset
from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.training.data import TaskData, TaskSplits
from plantpulse.pipelines.train.tasks.base import TaskBundle
from plantpulse.pipelines.train.tasks.splits import split_groups

ASSET = "aircraft"
SYSTEMS: dict[str, tuple[str, ...]] = {
    "electrical": ("battery", "alternator", "starter", "wiring", "breaker", "bulb", "light",
                   "lights", "voltage", "volt", "switch", "radio"),
    "ignition": ("mag", "mags", "magneto", "magnetos", "plug", "plugs", "spark", "ignition", "harness"),
    "fuel": ("fuel", "servo", "carb", "carburetor", "mixture", "injector", "primer", "throttle"),
    "oil": ("oil", "sump", "breather", "dipstick"),
    "exhaust_baffle": ("baffle", "baffles", "exhaust", "muffler", "cowl", "cowling", "stack"),
    "cylinder": ("cyl", "cyls", "cylinder", "cylinders", "rocker", "intake", "valve", "valves",
                 "compression", "piston", "pushrod", "gasket", "gaskets"),
}
CLASSES: tuple[str, ...] = (*SYSTEMS, "other")
SYSTEM_TASK = TaskSpec(name=f"system:{ASSET}", kind="classification", classes=CLASSES)
_WORD = re.compile(r"[a-z0-9]+")


def system_label(action: str) -> str:
    """The system an action text acted on (see the module docstring)."""
    words = set(_WORD.findall(action.lower()))
    return next((name for name, keys in SYSTEMS.items() if words & set(keys)), "other")


def build(root: Path | str, *, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
          seed: int = 0, verify: str = "sizes", pretrain_text: str = "separate", **_: object) -> TaskBundle:
    """MaintNet as a :class:`TaskBundle`; groups are distinct normalised problem texts.

    Pre-training data are the training rows' texts only: ``pretrain_text="separate"`` gives each
    problem and each action text as its own sample; ``"paired"`` gives each row's problem and
    action as one text (``problem | action``), so masked-token prediction learns which problem
    words go with which repair words. The task itself still reads the problem text alone."""
    if pretrain_text not in ("separate", "paired"):
        raise ConfigError(f"maintnet pretrain_text must be 'separate' or 'paired', got {pretrain_text!r}.")
    data = load_dataset("maintnet", root, verify=verify)
    labels = np.array([CLASSES.index(system_label(a)) for a in data.action])
    problems = [" ".join(p.lower().split()) for p in data.problem]
    groups = np.unique(problems, return_inverse=True)[1]
    masks = split_groups(groups, fractions, seed, stratify=labels)
    splits = []
    for split, mask in zip(("train", "val", "test"), masks, strict=True):
        rows = np.flatnonzero(mask)
        splits.append(TaskData(name=f"maintnet_{split}", task=SYSTEM_TASK, groups=groups[rows],
                               texts=tuple(data.problem[i] for i in rows), targets=labels[rows]))
    train_rows = np.flatnonzero(masks[0])
    if pretrain_text == "paired":
        pretrain = TaskData(name="maintnet_pretrain", task=None, groups=groups[train_rows],
                            texts=tuple(f"{data.problem[i]} | {data.action[i]}" for i in train_rows))
    else:  # problem and action texts of the training rows only, each on its own
        pretrain = TaskData(
            name="maintnet_pretrain", task=None, groups=np.concatenate([groups[train_rows]] * 2),
            texts=tuple(data.problem[i] for i in train_rows) + tuple(data.action[i] for i in train_rows))
    counts = np.bincount(labels, minlength=len(CLASSES))
    notes = {"label_counts": dict(zip(CLASSES, counts.tolist(), strict=True)),
             **{f"{d.name}_rows": len(d) for d in splits}}
    return TaskBundle("maintnet", {SYSTEM_TASK.name: TaskSplits(*splits)}, (pretrain,), {}, notes)
