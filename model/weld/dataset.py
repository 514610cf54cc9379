"""Weld images with YOLO box labels: reading a dataset folder into typed records.

A YOLO dataset folder holds ``<split>/images/<name>.jpg`` and ``<split>/labels/<name>.txt``
(one ``class cx cy w h`` line per box, coordinates normalised to 0..1) and a class list
(``classes.yaml`` or ``data.yaml`` with ``names``). Roboflow exports name augmented copies of one
photo ``<source>.rf.<hash>.jpg``; :func:`source_key` recovers ``<source>`` so splits can keep all
copies of a photo together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from plantpulse.data.core.errors import DatasetError, InputDataError
from plantpulse.data.core.hashing import sha256_file
from plantpulse.data.core.records import YoloBox
from plantpulse.data.core.yolo import parse_yolo_line

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
SPLIT_FOLDERS = ("train", "valid", "test")
CLASS_FILES = ("classes.yaml", "data.yaml")


@dataclass(frozen=True, slots=True)
class LabelledImage:
    """An image file and its boxes. ``origin`` is the split folder it came from (or ``review``)."""

    image: Path
    boxes: tuple[YoloBox, ...]
    origin: str
    source: str
    sha256: str

    @property
    def name(self) -> str:
        return self.image.name


def source_key(file_name: str) -> str:
    """The source photo of a Roboflow export name: the part before ``.rf.``, else the stem."""
    name = Path(file_name).name
    if ".rf." in name:
        return name.split(".rf.", 1)[0]
    return Path(name).stem


def read_labels(path: Path, n_classes: int) -> tuple[YoloBox, ...]:
    """All boxes of one label file; a missing file means no boxes (a background image)."""
    if not path.is_file():
        return ()
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        return tuple(parse_yolo_line(line, f"{path}:{number}", n_classes)
                     for number, line in enumerate(lines, start=1) if line.strip())
    except InputDataError as err:
        raise DatasetError(str(err)) from err


def read_class_names(root: Path) -> tuple[str, ...]:
    """Class names from ``classes.yaml`` or ``data.yaml`` (a list or an index->name mapping)."""
    for file_name in CLASS_FILES:
        path = root / file_name
        if path.is_file():
            names = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("names")
            if isinstance(names, dict):
                names = [names[key] for key in sorted(names)]
            if isinstance(names, list) and names:
                return tuple(str(name) for name in names)
            raise DatasetError(f"{path}: no 'names' list of classes found.")
    msg = f"{root}: no class list; expected one of {', '.join(CLASS_FILES)} with 'names'."
    raise DatasetError(msg)


def scan_folder(images_dir: Path, labels_dir: Path, origin: str,
                n_classes: int) -> list[LabelledImage]:
    """Every image of one ``images`` folder with its labels from the sibling ``labels`` folder."""
    items = []
    for image in sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        boxes = read_labels(labels_dir / f"{image.stem}.txt", n_classes)
        items.append(LabelledImage(image=image, boxes=boxes, origin=origin,
                                   source=source_key(image.name), sha256=sha256_file(image)))
    return items


def scan_yolo_dataset(root: Path, splits: Sequence[str] = SPLIT_FOLDERS,
                      ) -> tuple[tuple[str, ...], list[LabelledImage]]:
    """Read a YOLO dataset folder: its class names and every labelled image of ``splits``."""
    root = Path(root)
    if not root.is_dir():
        msg = (f"Weld dataset folder {root} does not exist. Point PLANTPULSE_DATASETS at the "
               "folder holding weld_surface_yolo, or pass --data.")
        raise DatasetError(msg)
    names = read_class_names(root)
    items: list[LabelledImage] = []
    for split in splits:
        images_dir = root / split / "images"
        if not images_dir.is_dir():
            raise DatasetError(f"{root}: missing split folder {split}/images.")
        items.extend(scan_folder(images_dir, root / split / "labels", split, len(names)))
    if not items:
        raise DatasetError(f"{root}: no images found in {', '.join(splits)}.")
    return names, items


def drop_exact_duplicates(items: Iterable[LabelledImage]) -> tuple[list[LabelledImage], int]:
    """Keep the first image of each file hash; return the kept images and how many were dropped.

    Byte-identical copies would otherwise land in two splits and leak test images into training.
    """
    seen: set[str] = set()
    kept: list[LabelledImage] = []
    dropped = 0
    for item in items:
        if item.sha256 in seen:
            dropped += 1
            continue
        seen.add(item.sha256)
        kept.append(item)
    return kept, dropped
