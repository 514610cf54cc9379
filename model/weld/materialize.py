"""Write a split as an Ultralytics dataset folder, without touching the source dataset.

Ultralytics caches label scans next to the label files it reads. Pointed at the shared,
read-only dataset it would try to write there, so every run trains on a working copy:
images are symbolic links (copies where links are not allowed) and label files are written
from the typed boxes, which is also how reviewed labels from the database enter a dataset.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from plantpulse.data.core.errors import InputDataError
from plantpulse.model.weld.dataset import LabelledImage
from plantpulse.model.weld.splits import PARTS


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.symlink(source.resolve(), target)
    except OSError:
        shutil.copyfile(source, target)


def _unique_name(item: LabelledImage, used: set[str]) -> str:
    """The image's file name, prefixed by a hash fragment if another image already uses it."""
    name = item.name
    if name in used:
        name = f"{item.sha256[:12]}_{name}"
    used.add(name)
    return name


def write_part(items: Sequence[LabelledImage], root: Path, part: str) -> int:
    """Write ``images/<part>`` and ``labels/<part>``; return the number of images written."""
    images_dir, labels_dir = root / "images" / part, root / "labels" / part
    for folder in (images_dir, labels_dir):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
    used: set[str] = set()
    for item in items:
        name = _unique_name(item, used)
        _link_or_copy(item.image, images_dir / name)
        label_text = "\n".join(box.line() for box in item.boxes)
        (labels_dir / f"{Path(name).stem}.txt").write_text(label_text + "\n" if label_text else "",
                                                         encoding="utf-8")
    return len(items)


def write_dataset(parts: Mapping[str, Sequence[LabelledImage]], root: Path,
                  names: Sequence[str]) -> Path:
    """Write the given parts (e.g. ``{"train": ..., "val": ...}``) and a ``data.yaml``.

    Returns the path of ``data.yaml``; a part missing from ``parts`` is left out of it.
    """
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        msg = f"Unknown dataset parts {unknown}. Available: {', '.join(PARTS)}."
        raise InputDataError(msg)
    if not parts.get("train") or not parts.get("val"):
        raise InputDataError("A training dataset needs non-empty 'train' and 'val' parts.")
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    config: dict[str, object] = {"path": str(root), "names": dict(enumerate(names))}
    for part, items in parts.items():
        write_part(items, root, part)
        config[part] = f"images/{part}"
    data_yaml = root / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                         encoding="utf-8")
    return data_yaml


