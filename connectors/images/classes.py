"""Whole-image class labels of a weld-image upload: its class folders, or a labels CSV.

* **Class folders** (``--classes-from folders``): the folder an image sits in names its class,
  ``good/a.jpg`` -> ``good``. An image at the top of the upload has no class folder and is
  refused with that reason.
* **Labels CSV** (``--labels labels.csv``): a header with ``file`` and ``class`` columns, one row
  per image. ``file`` is the image's path inside the upload (``good/a.jpg``) or, when that is
  unique, its bare file name. A row whose file is not in the upload, whose class is empty or too
  long, or that repeats a file with another class is a Rejection with the CSV's file:line; the
  other rows still count.

A class label is the class of the *whole image*: it never becomes a box.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import Rejection

FOLDERS = "folders"
CLASS_SOURCES = (FOLDERS,)
MAX_CLASS_LENGTH = 64
CSV_COLUMNS = ("file", "class")


@dataclass(frozen=True, slots=True)
class ClassTable:
    """The rows of a labels CSV: file -> (class, line), as written (not yet matched to images)."""

    name: str
    rows: tuple[tuple[str, str, int], ...]  # (file, class, CSV line)
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class ClassLabels:
    """Where an upload's whole-image classes come from: class folders, or a labels CSV."""

    from_folders: bool = False
    table: ClassTable | None = None

    def __post_init__(self) -> None:
        if self.from_folders and self.table is not None:
            raise InputDataError("Give class folders or a labels CSV, not both: they would disagree on "
                                 "which class an image has.")


@dataclass(slots=True)
class Matched:
    """A labels CSV matched to the images of one upload: image name -> class, and the bad rows."""

    classes: dict[str, str] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)


def read_class_table(path: str | Path) -> ClassTable:
    """Read a labels CSV (UTF-8, header ``file,class``; other columns are ignored)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputDataError(f"{path}: cannot read the labels CSV ({err.strerror or err}).") from err
    return parse_class_table(path.name, data)


def parse_class_table(name: str, data: bytes) -> ClassTable:
    """The rows of a labels CSV given as bytes; a missing column refuses the whole file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputDataError(f"{name}: the labels CSV is not UTF-8 text ({err.reason}); save it as UTF-8.") from err
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise InputDataError(f"{name}:1: the labels CSV needs the columns {', '.join(CSV_COLUMNS)}; "
                             f"{', '.join(missing)} missing (header: {', '.join(header) or 'empty'}).")
    at = [header.index(c) for c in CSV_COLUMNS]
    rows = []
    for line, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        cells = [record[i].strip() if i < len(record) else "" for i in at]
        rows.append((cells[0], cells[1], line))
    return ClassTable(name, tuple(rows), data)


def _bad(table: ClassTable, line: int, reason: str, raw: str) -> Rejection:
    return Rejection(table.name, line, None, reason, raw, "bad_class_label")


def match_table(table: ClassTable, images: Collection[str]) -> Matched:
    """Each CSV row matched to one image of the upload (its path there, else a unique bare name)."""
    by_name: dict[str, list[str]] = {}
    for image in images:
        by_name.setdefault(PurePosixPath(image).name, []).append(image)
    out = Matched()
    first_line: dict[str, int] = {}
    for file, cls, line in table.rows:
        raw = f"{file},{cls}"
        found = [file] if file in images else by_name.get(file, []) if "/" not in file else []
        if len(found) > 1:
            out.rejected.append(_bad(table, line, f"file {file!r} names {len(found)} images of the upload "
                                                  f"({', '.join(sorted(found)[:3])}); write its path", raw))
            continue
        image = found[0] if found else ""
        if not image:
            out.rejected.append(_bad(table, line, f"file {file!r} is not an image of the upload; check the "
                                                  f"name (paths are relative to the uploaded folder)", raw))
        elif not cls:
            out.rejected.append(_bad(table, line, f"empty class for {file!r}; write the image's class", raw))
        elif len(cls) > MAX_CLASS_LENGTH:
            out.rejected.append(_bad(table, line, f"class of {file!r} is longer than {MAX_CLASS_LENGTH} "
                                                  f"characters", raw))
        elif image in out.classes and out.classes[image] != cls:
            out.rejected.append(_bad(table, line, f"{file!r} already has class {out.classes[image]!r} "
                                                  f"(line {first_line[image]}); one class per image", raw))
        else:
            first_line.setdefault(image, line)
            out.classes[image] = cls
    return out


def folder_class(image_name: str) -> str | None:
    """The class folder of an image inside the upload (``good/a.jpg`` -> ``good``), None at the top."""
    parent = PurePosixPath(image_name).parent.name
    return parent or None
