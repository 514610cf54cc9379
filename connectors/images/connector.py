"""The ``images`` connector: weld images from a folder or a zip, with optional YOLO labels.

Each image is decoded and checked by :mod:`plantpulse.connectors.images.validation` (corrupt,
truncated, oversized, unsupported files are refused with a reason), so one bad image is a
Rejection and the rest of the upload goes on. Labels are looked up in ``labels/`` beside
``images/`` or next to the image; files that are neither images nor labels are counted.
Whole-image class labels (class folders or a labels CSV) come from
:mod:`plantpulse.connectors.images.classes` when :class:`ClassLabels` are given.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from plantpulse.connectors.images.archive import ArchiveLimits, Entry, open_upload
from plantpulse.connectors.images.classes import MAX_CLASS_LENGTH, ClassLabels, folder_class, match_table
from plantpulse.connectors.images.labels import CLASS_FILES, class_names, label_candidates, parse_labels
from plantpulse.connectors.images.validation import validate_image
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import Rejection, WeldImageFile

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "BMP": "bmp", "TIFF": "tif", "WEBP": "webp"}


@dataclass(frozen=True, slots=True)
class ImageOptions:
    """Upload guards and the decoder's pixel limit (from ``Settings.ingest``)."""

    limits: ArchiveLimits = ArchiveLimits()
    max_image_pixels: int = 40_000_000
    max_image_mb: float = 64.0


@dataclass(slots=True)
class UploadContents:
    """How the files of an upload were used (the batch summary reports it)."""

    images: int = 0
    labels: int = 0
    unmatched_labels: list[str] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)
    class_file: str | None = None
    classes: tuple[str, ...] = ()
    image_classes: dict[str, str] = field(default_factory=dict)  # image name -> whole-image class


class ImageConnector:
    """Reads weld-image uploads; construct with :class:`ImageOptions`, then :meth:`read`."""

    name = "images"

    def __init__(self, options: ImageOptions | None = None, classes: ClassLabels | None = None) -> None:
        self.options = options or ImageOptions()
        self.classes = classes or ClassLabels()
        self.contents = UploadContents()

    def read(self, path: str | Path, source: str | None = None) -> Iterator[WeldImageFile | Rejection]:
        """Validated images (with their labels) and rejections, in name order."""
        path = Path(path)
        label = source or path.name
        with open_upload(path, label, self.options.limits) as listing:
            for name, why in listing.skipped:
                yield Rejection(name, None, None, f"skipped: {why}; only regular files are read", "", "skipped_file")
            yield from self._read(label, {e.name: e for e in listing})

    def _read(self, label: str, entries: dict[str, Entry]) -> Iterator[WeldImageFile | Rejection]:
        self.contents = contents = UploadContents()
        rejected: list[Rejection] = []
        for name in sorted(entries, key=lambda n: (n.count("/"), n)):
            if PurePosixPath(name).name.lower() in CLASS_FILES:
                try:
                    contents.classes = class_names(name, entries[name].read())
                    contents.class_file = name
                except InputDataError as err:
                    rejected.append(Rejection(name, None, None, str(err), "", "bad_class_file"))
                break
        yield from rejected
        yield from self._class_labels([n for n in entries if n.lower().endswith(IMAGE_SUFFIXES)])
        used: set[str] = set()
        for name in sorted(entries):
            if not name.lower().endswith(IMAGE_SUFFIXES):
                continue
            contents.images += 1
            yield from self._image(entries, name, used)
        for name in sorted(entries):
            if name in used or name.lower().endswith(IMAGE_SUFFIXES) or name == contents.class_file:
                continue
            (contents.unmatched_labels if name.endswith(".txt") else contents.other_files).append(name)

    def _class_labels(self, images: list[str]) -> Iterator[Rejection]:
        """Fill ``contents.image_classes``; bad labels-CSV rows and over-long folder names are refused."""
        found = self.contents.image_classes
        if self.classes.table is not None:
            matched = match_table(self.classes.table, set(images))
            found.update(matched.classes)
            yield from matched.rejected
        elif self.classes.from_folders:
            for name in images:
                cls = folder_class(name)
                if cls is not None and len(cls) > MAX_CLASS_LENGTH:
                    yield Rejection(name, None, None, f"class folder name is longer than {MAX_CLASS_LENGTH} "
                                    f"characters; rename the folder", cls[:200], "bad_class_label")
                elif cls is not None:
                    found[name] = cls

    def _image(self, entries: dict[str, Entry], name: str, used: set[str]
               ) -> Iterator[WeldImageFile | Rejection]:
        label_name = next((c for c in label_candidates(name) if c in entries), None)
        if label_name is not None:
            used.add(label_name)
        try:
            data = entries[name].read()
            image = validate_image(data, name=name, max_pixels=self.options.max_image_pixels,
                                   max_bytes=int(self.options.max_image_mb * 1024 * 1024))
        except InputDataError as err:
            code = "image_too_large" if "limit" in str(err) else "bad_image"
            yield Rejection(name, None, None, str(err), "", code)
            return
        boxes = None
        if label_name is not None:
            self.contents.labels += 1
            boxes, bad_lines = parse_labels(label_name, entries[label_name].read(), self.contents.classes)
            yield from bad_lines
        yield WeldImageFile(
            name=name, data=data, sha256=image.sha256, format=EXTENSIONS.get(image.format, image.format.lower()),
            width=image.width, height=image.height, labels=boxes, label_name=label_name,
            class_name=self.contents.image_classes.get(name),
        )
