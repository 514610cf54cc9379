"""YOLO label files: one ``class cx cy w h`` line per box (normalised 0..1); polygon lines
(``class x1 y1 x2 y2 ...``, YOLO segmentation) become their bounding box. Class names come from a
``classes.yaml``/``data.yaml`` (``names:``) or ``classes.txt`` found in the upload."""

from __future__ import annotations

from pathlib import PurePosixPath

import yaml

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import Rejection, YoloBox
from plantpulse.data.core.yolo import parse_yolo_line

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


def parse_labels(name: str, data: bytes, classes: tuple[str, ...]) -> tuple[tuple[YoloBox, ...], list[Rejection]]:
    """Boxes of a label file; each unreadable line is a Rejection (the other lines still count)."""
    boxes: list[YoloBox] = []
    rejected: list[Rejection] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return (), [Rejection(name, None, None, f"label file is not UTF-8 text ({err.reason})", "", "bad_label")]
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.split():
            continue
        try:
            boxes.append(parse_yolo_line(line, f"{name}:{number}", polygons=True, names=classes))
        except InputDataError as err:
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
