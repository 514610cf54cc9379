"""The class-labelled weld images of the database, split and turned into model-ready arrays.

An image's class is its latest engineer's review (a verdict records ``good`` or ``bad``), else its
latest class label from an upload (class folder or labels CSV). Images with only YOLO boxes have
no class here: boxes train the detector, and no class is made up from them.

Splits reuse :mod:`plantpulse.model.weld.splits`: ``clip`` keeps all frames of one video clip (a
clip read from the file name) and all copies of one photo in one part, so it falls back to one
group per file when no name is a video frame; ``file`` groups by source photo only. Both are
stratified by class, and validation and test keep one image per source.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from plantpulse.connectors.images.validation import validate_image
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.store.image_store import image_file
from plantpulse.data.store.schema import WeldImage, WeldLabel
from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.training import TaskData, TaskSplits
from plantpulse.model.weld.dataset import LabelledImage, source_key
from plantpulse.model.weld.splits import PARTS, WeldSplit, clip_key, clip_split, grouped_split

SPLITS = ("clip", "file")
TASK_NAME = "class:weld"


@dataclass(frozen=True)
class ClassData:
    """The split as arrays. ``splits``: train/val/test TaskData with ``images`` (N, 3, S, S) uint8 and
    ``targets`` (N,) class index; ``files``: the image names per part; ``info``: counts for the report."""

    splits: TaskSplits
    classes: tuple[str, ...]
    files: dict[str, list[str]]
    info: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ClassImage:
    """A stored image with its whole-image class; ``name`` is its name as uploaded."""

    item: LabelledImage
    class_name: str
    name: str


def labelled_images(session: Session, store_dir: Path) -> list[ClassImage]:
    """Every image with a class label, in image-id order."""
    query = (select(WeldLabel.image_id, WeldLabel.class_name, WeldImage)
             .join(WeldImage, WeldLabel.image_id == WeldImage.id)
             .where(WeldLabel.class_name.is_not(None), WeldLabel.source.in_(("class", "review")))
             .order_by(WeldLabel.source, WeldLabel.created_at, WeldLabel.id))  # review sorts last: it wins
    latest = {image_id: (cls, image) for image_id, cls, image in session.execute(query).all()}
    return [ClassImage(LabelledImage(image=image_file(store_dir, image.storage_path), boxes=(), origin="database",
                                     source=source_key(image.original_name), sha256=image.sha256),
                       cls, image.original_name)
            for _, (cls, image) in sorted(latest.items())]


def split_images(items: Sequence[ClassImage], how: str, seed: int = 0) -> WeldSplit:
    """Train/val/test by ``how`` (:data:`SPLITS`), stratified by the (majority) class of each split
    unit."""
    if how not in SPLITS:
        raise InputDataError(f"Unknown split {how!r}. Available: {', '.join(SPLITS)}.")
    cls = {it.item.sha256: it.class_name for it in items}

    def majority(group: Sequence[LabelledImage]) -> str:
        counts = Counter(cls[it.sha256] for it in group)
        return min(counts, key=lambda c: (-counts[c], c))

    images = [it.item for it in items]
    if how == "clip":
        return clip_split(images, seed=seed, stratum=majority)
    return grouped_split(images, seed=seed, stratum=majority)


def load_pixels(path: Path, size: int) -> np.ndarray:
    """(3, size, size) uint8 of a stored image, decoded through the one image validation."""
    rgb = validate_image(path).rgb
    small = Image.fromarray(rgb).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.uint8).transpose(2, 0, 1)


def build(items: Sequence[ClassImage], how: str, image_size: int, seed: int = 0) -> ClassData:
    """Split the class-labelled images and load their pixels at ``image_size`` squares."""
    classes = tuple(sorted({it.class_name for it in items}))
    if len(classes) < 2:
        raise InputDataError(f"The class-labelled weld images hold {len(classes)} class(es) ({', '.join(classes)}); "
                             "a classifier needs two or more. Ingest images with --classes-from folders or "
                             "--labels labels.csv, or review inspections.")
    split = split_images(items, how, seed)
    cls = {it.item.sha256: it.class_name for it in items}
    names = {it.item.sha256: it.name for it in items}
    task = TaskSpec(name=TASK_NAME, kind="classification", classes=classes)
    parts, files = [], {}
    groups = {key: n for n, key in enumerate(sorted({it.item.source for it in items}))}
    for name in PARTS:
        part = split.part(name)
        if name == "train" and len({cls[it.sha256] for it in part}) < 2:
            raise InputDataError(f"The {how} split left one class in training ({len(part)} images); add "
                                 "images of the other classes.")
        parts.append(TaskData(
            name=f"weld_class_{name}", task=task, groups=np.array([groups[it.source] for it in part]),
            images=np.stack([load_pixels(it.image, image_size) for it in part]),
            targets=np.array([classes.index(cls[it.sha256]) for it in part], dtype=np.int64)))
        files[name] = [names[it.sha256] for it in part]
    counts = {name: dict(sorted(Counter(cls[it.sha256] for it in split.part(name)).items())) for name in PARTS}
    clips = sum(clip_key(it.item.source) is not None for it in items)
    info = {"split": how, "images": len(items), "classes": list(classes), "per_part": counts,
            "video_frames": clips, "summary": split.summary(), "image_size": image_size, "seed": seed}
    return ClassData(TaskSplits(*parts), classes, files, info)
