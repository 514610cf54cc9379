"""Weld-surface photos with YOLO boxes ("The Welding Defect Dataset", Roboflow export, 3 classes).

Training images include Roboflow augmentation copies of one source image (same name before
``.rf.``); ``WeldItem.source_id`` carries that name so splits can be grouped by source.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plantpulse.data.core.errors import DatasetError, InputDataError
from plantpulse.data.core.hashing import sha256_file
from plantpulse.data.core.yolo import parse_yolo_line
from plantpulse.data.datasets.manifest import (
    FileSpec,
    Manifest,
    Verify,
    check_counts,
    dataset_folder,
    verify_files,
)

CLASS_NAMES: tuple[str, ...] = ("Bad Weld", "Good Weld", "Defect")
SPLITS: tuple[str, ...] = ("train", "valid", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

MANIFEST = Manifest(
    dataset="weld_surface_yolo",
    folder="weld_surface_yolo",
    files=(
        FileSpec("classes.yaml", 273, "1811589adbde0fe4e1c2ab001de2815b40701d70f41590d43033f7bf98eec525"),
        FileSpec("FILES.sha256", 315780, "646d3ff385ce5e9f53493216964a5cce579b063aa41dff4f43307e3bda4bb748"),
    ),
)
# split -> (images, label files, boxes per class, images containing each class)
COUNTS: dict[str, tuple[int, int, tuple[int, int, int], tuple[int, int, int]]] = {
    "train": (839, 839, (736, 1111, 1298), (476, 520, 587)),
    "valid": (176, 176, (127, 253, 193), (87, 119, 90)),
    "test": (74, 74, (67, 76, 66), (39, 51, 31)),
}


@dataclass(frozen=True, slots=True)
class WeldItem:
    """One image and its YOLO boxes: (K, 5) float32 rows of [class, cx, cy, w, h] in 0..1."""

    split: str
    image_path: Path
    label_path: Path
    source_id: str
    boxes: np.ndarray


@dataclass(frozen=True, slots=True)
class WeldYoloData:
    root: Path
    items: tuple[WeldItem, ...]
    class_names: tuple[str, ...] = CLASS_NAMES

    def split(self, name: str) -> tuple[WeldItem, ...]:
        return tuple(item for item in self.items if item.split == name)


def source_id(image_name: str) -> str:
    """The Roboflow source image of ``image_name`` (its name before ``.rf.``)."""
    return image_name.split(".rf.", 1)[0]


def read_labels(path: Path) -> np.ndarray:
    """Parse a YOLO label file into (K, 5) float32, with the file and line in any error."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            box = parse_yolo_line(line, f"{path}:{number}")
        except InputDataError as err:
            raise DatasetError(str(err)) from err
        rows.append((box.class_id, box.cx, box.cy, box.w, box.h))
    return np.asarray(rows, dtype=np.float32).reshape(-1, 5)


def _split_items(folder: Path, split: str) -> list[WeldItem]:
    images = sorted(p for p in (folder / split / "images").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    items = []
    for image in images:
        label = folder / split / "labels" / f"{image.stem}.txt"
        if not label.is_file():
            msg = f"weld_surface_yolo: {image} has no label file {label}."
            raise DatasetError(msg)
        items.append(WeldItem(split, image, label, source_id(image.name), read_labels(label)))
    return items


def _check_split(split: str, items: list[WeldItem], n_labels: int) -> None:
    boxes = Counter(int(c) for item in items for c in item.boxes[:, 0])
    with_class = Counter(int(c) for item in items for c in set(item.boxes[:, 0].tolist()))
    n_img, n_lab, n_boxes, n_with = COUNTS[split]
    seen = {f"{split} images": len(items), f"{split} label files": n_labels}
    seen |= {f"{split} {CLASS_NAMES[c]} boxes": boxes.get(c, 0) for c in range(3)}
    seen |= {f"{split} images with {CLASS_NAMES[c]}": with_class.get(c, 0) for c in range(3)}
    expected = dict(zip(seen, (n_img, n_lab, *n_boxes, *n_with), strict=True))
    check_counts("weld_surface_yolo", seen, expected)


def _verify_checksums(folder: Path, items: list[WeldItem]) -> None:
    listed = {}
    for line in (folder / "FILES.sha256").read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    for item in items:
        for path in (item.image_path, item.label_path):
            rel = path.relative_to(folder).as_posix()
            if listed.get(rel) != sha256_file(path):
                msg = f"weld_surface_yolo: {path} does not match FILES.sha256; replace it with the original."
                raise DatasetError(msg)


def load(root: Path | str, verify: Verify = "full") -> WeldYoloData:
    """Index the images and labels of ``root/weld_surface_yolo`` (pixels are not read here)."""
    verify_files(root, MANIFEST, verify)
    folder = dataset_folder(root, MANIFEST)
    items: list[WeldItem] = []
    for split in SPLITS:
        split_items = _split_items(folder, split)
        if verify != "none":
            n_labels = len(list((folder / split / "labels").glob("*.txt")))
            _check_split(split, split_items, n_labels)
        items.extend(split_items)
    if verify == "full":
        _verify_checksums(folder, items)
    return WeldYoloData(root=folder, items=tuple(items))
