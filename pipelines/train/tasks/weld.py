"""Weld-surface photos: whole-image weld class.

Label per image from its YOLO boxes, by severity: ``defect`` if any Defect box, else
``bad_weld`` if any Bad Weld box, else ``good_weld``. Byte-identical files are kept once
(sha256). The default ``split="clip"`` groups every image by its video clip, or, for a photo that
is not a video frame, by its Roboflow source image (name before ``.rf.``;
``plantpulse.model.weld.splits.group_key``): frames of one clip and augmentation copies of one
photo never straddle splits. ``split="source"`` groups by source image only (frames of one clip
can then sit in train and test), kept as a labelled comparison. The dataset's own
train/valid/test folders are *not* used because one source image sits in both train and test
there. Images are resized to ``image_size`` squares (uint8, channels first).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.hashing import sha256_file
from plantpulse.data.datasets import load_dataset
from plantpulse.model.image_features import image_feature_names, image_features
from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.training.data import TaskData, TaskSplits
from plantpulse.model.weld.splits import fill_parts, source_group
from plantpulse.pipelines.train.tasks.base import TaskBundle
from plantpulse.pipelines.train.tasks.splits import Standardizer, split_groups

ASSET = "weld"
CLASSES: tuple[str, ...] = ("good_weld", "bad_weld", "defect")
WELD_TASK = TaskSpec(name=f"defect:{ASSET}", kind="classification", classes=CLASSES)
_BAD, _GOOD, _DEFECT = 0, 1, 2  # YOLO class ids in classes.yaml


def image_label(boxes: np.ndarray) -> int:
    classes = set(boxes[:, 0].astype(int).tolist())
    if _DEFECT in classes:
        return CLASSES.index("defect")
    return CLASSES.index("bad_weld") if _BAD in classes else CLASSES.index("good_weld")


def load_image(path: Path, size: int) -> np.ndarray:
    with Image.open(path) as img:
        rgb = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)


SPLITS_BY: tuple[str, ...] = ("clip", "source")


def _clip_masks(groups: np.ndarray, labels: np.ndarray, fractions: tuple[float, float, float],
                seed: int) -> list[np.ndarray]:
    """Train/val/test row masks with whole groups (clips, photos) per part. A clip holds hundreds
    of frames, so parts are filled by images, not by group count: groups are shuffled with
    ``seed`` within strata of their most severe class, and each goes to test, then val, while it
    fits their share of the stratum's images, else to train (``fill_parts``, as the detector's
    clip split does), so a clip larger than a part's share trains."""
    rng = random.Random(seed)
    worst = {int(g): int(labels[groups == g].max()) for g in np.unique(groups)}
    sizes = {str(g): int((groups == g).sum()) for g in worst}
    assignment: dict[str, str] = {}
    for stratum in sorted(set(worst.values())):
        keys = sorted(str(g) for g, w in worst.items() if w == stratum)
        rng.shuffle(keys)
        assignment.update(fill_parts(keys, sizes, fractions))
    part = np.array([assignment[str(g)] for g in groups])
    return [part == name for name in ("train", "val", "test")]


def structured_features(images: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """The ``structured`` option's features of ``images``: :func:`image_features`, standardised on
    the rows of the ``train`` mask, and their names."""
    names = image_feature_names()
    table = image_features(images)
    return Standardizer.fit(table[train], names).apply(table), names


def build(root: Path | str, *, image_size: int = 64, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
          seed: int = 0, verify: str = "sizes", structured: bool = False, split: str = "clip",
          **_: object) -> TaskBundle:
    """The weld task (see the module docstring). ``structured``: the gradient-boosting baseline's
    colour and texture features of each image (:mod:`plantpulse.model.image_features`) also as
    structured feature tokens (``TaskData.features``, standardised on the training images)."""
    if split not in SPLITS_BY:
        raise InputDataError(f"weld_surface_yolo.split={split!r}: choose one of {list(SPLITS_BY)}.")
    data = load_dataset("weld_surface_yolo", root, verify=verify)
    seen, items = set(), []
    for item in data.items:
        digest = sha256_file(item.image_path)
        if digest not in seen:
            seen.add(digest)
            items.append(item)
    labels = np.array([image_label(item.boxes) for item in items])
    keys = [source_group(item.source_id) if split == "clip" else item.source_id for item in items]
    groups = np.unique(keys, return_inverse=True)[1]
    images = np.stack([load_image(item.image_path, image_size) for item in items])
    masks = _clip_masks(groups, labels, fractions, seed) if split == "clip" else split_groups(
        groups, fractions, seed, stratify=labels)
    features, names = structured_features(images, masks[0]) if structured else (None, ())
    splits = [TaskData(name=f"weld_{split}", task=WELD_TASK, groups=groups[m], images=images[m],
                       targets=labels[m], info={"files": [items[i].image_path.name for i in np.flatnonzero(m)]},
                       features=None if features is None else features[m], feature_names=names)
              for split, m in zip(("train", "val", "test"), masks, strict=True)]
    notes = {"images": len(data.items), "duplicates_removed": len(data.items) - len(items), "split": split,
             "groups": int(groups.max() + 1),
             "label_counts": dict(zip(CLASSES, np.bincount(labels, minlength=3).tolist(), strict=True)),
             **({"structured": True} if structured else {})}
    pretrain = TaskData(name="weld_pretrain", task=None, groups=splits[0].groups, images=splits[0].images)
    return TaskBundle("weld_surface_yolo", {WELD_TASK.name: TaskSplits(*splits)}, (pretrain,), {}, notes)
