"""YOLO label files: one ``class cx cy w h`` line per box (normalised 0..1); polygon lines
(``class x1 y1 x2 y2 ...``, YOLO segmentation) become their bounding box. Class names come from a
``classes.yaml``/``data.yaml`` (``names:``) or ``classes.txt`` found in the upload."""

from __future__ import annotations

from pathlib import PurePosixPath

import yaml

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import Rejection, YoloBox

CLASS_FILES = ("classes.yaml", "data.yaml", "dataset.yaml", "classes.txt")


def class_names(name: str, data: bytes) -> tuple[str, ...]:
    """Class names from a YOLO dataset file (yaml ``names:`` list or dict, or one name a line)."""
    text = data.decode("utf-8-sig", errors="replace")
    if name.endswith(".txt"):
        return tuple(line.strip() for line in text.splitlines() if line.strip())
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise InputDataError(f"{name}: not valid YAML ({err}).") from err
    names = doc.get("names", []) if isinstance(doc, dict) else []
    if isinstance(names, dict):
        return tuple(str(names[k]) for k in sorted(names, key=int))
    return tuple(str(n) for n in names)


def _box(parts: list[str], classes: tuple[str, ...]) -> YoloBox:
    class_id = int(parts[0])
    numbers = [float(p) for p in parts[1:]]
    if len(numbers) == 4:
        cx, cy, w, h = numbers
    elif len(numbers) >= 6 and len(numbers) % 2 == 0:
        xs, ys = numbers[0::2], numbers[1::2]
        cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
        w, h = max(xs) - min(xs), max(ys) - min(ys)
    else:
        raise ValueError(f"expected 'class cx cy w h' (5 numbers), found {len(parts)} fields")
    if classes and class_id >= len(classes):
        raise ValueError(f"class {class_id} is not among the {len(classes)} classes of the dataset file")
    return YoloBox(class_id, cx, cy, w, h, classes[class_id] if classes else None)


def parse_labels(name: str, data: bytes, classes: tuple[str, ...]) -> tuple[tuple[YoloBox, ...], list[Rejection]]:
    """Boxes of a label file; each unreadable line is a Rejection (the other lines still count)."""
    boxes: list[YoloBox] = []
    rejected: list[Rejection] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return (), [Rejection(name, None, None, f"label file is not UTF-8 text ({err.reason})", "", "bad_label")]
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            boxes.append(_box(parts, classes))
        except (ValueError, InputDataError) as err:
            rejected.append(Rejection(name, number, None, f"not a YOLO label line: {err}", line, "bad_label"))
    return tuple(boxes), rejected


def label_candidates(image_name: str) -> list[str]:
    """Where the label of ``image_name`` may be: ``labels/`` beside ``images/``, or next to it."""
    path = PurePosixPath(image_name)
    same = str(path.with_suffix(".txt"))
    parts = list(path.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            swapped = [*parts[:i], "labels", *parts[i + 1 :]]
            return [str(PurePosixPath(*swapped).with_suffix(".txt")), same]
    return [same]
