"""Content-addressed pixel store for weld images: ``<root>/ab/cd/<sha256>.<ext>``.

Files are written once (atomically, by rename) and never changed, so a path taken from the
``weld_images`` table always shows the same pixels. A file written by an ingest that was later
rolled back is harmless: the next upload of the same image reuses it.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from plantpulse.data.core.errors import InputDataError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_EXTENSION = re.compile(r"^[a-z0-9]{1,5}$")


def relative_path(sha256: str, extension: str) -> str:
    """Where an image lives inside the store, e.g. ``ab/cd/abcd....jpg``."""
    if not _SHA256.match(sha256) or not _EXTENSION.match(extension):
        raise InputDataError(f"Not a sha256/extension pair: {sha256!r}, {extension!r}.")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.{extension}"


def store_image(root: Path, sha256: str, extension: str, data: bytes) -> str:
    """Write ``data`` under its content address (if not there yet); returns the relative path."""
    relative = relative_path(sha256, extension)
    target = root / relative
    if target.is_file() and target.stat().st_size == len(data):
        return relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return relative


def image_file(root: Path, storage_path: str) -> Path:
    """The file of a stored image (``storage_path`` as kept in ``weld_images``)."""
    return root / storage_path
