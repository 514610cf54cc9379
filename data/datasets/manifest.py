"""What a public dataset folder must contain, and the checks that prove it does.

Each loader declares a :class:`Manifest` copied from the dataset's provenance record (file names,
byte sizes, sha256, line counts) plus the counts it checks after parsing (rows, units, classes).
A missing file, a changed byte or a wrong count raises :class:`DatasetError` naming the file, the
expected and the seen value, and what to do.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from plantpulse.data.core.errors import DatasetError
from plantpulse.data.core.hashing import sha256_file, sha256_stream

Verify = Literal["full", "sizes", "none"]
VERIFY_LEVELS: tuple[str, ...] = ("full", "sizes", "none")
_HELP = "See docs/datasets.md for where to get the files."


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One file of a dataset as published: its name, byte size and sha256.

    For gzip files, ``raw_size``/``raw_sha256`` describe the decompressed original, so a file
    re-compressed after a download from the primary source still verifies.
    """

    name: str
    size: int
    sha256: str
    raw_size: int | None = None
    raw_sha256: str | None = None


def with_raw(files: tuple[FileSpec, ...], raw: dict[str, tuple[int, str]]) -> tuple[FileSpec, ...]:
    """``files`` with the decompressed size and sha256 from ``raw`` attached by name."""
    return tuple(
        FileSpec(f.name, f.size, f.sha256, *raw[f.name]) if f.name in raw else f for f in files
    )


@dataclass(frozen=True, slots=True)
class Manifest:
    """A dataset folder's expected files."""

    dataset: str
    folder: str
    files: tuple[FileSpec, ...]

    def path(self, root: Path, name: str) -> Path:
        return root / self.folder / name


def dataset_folder(root: Path | str, manifest: Manifest) -> Path:
    """The dataset's folder under ``root``, or a clear error when it is absent."""
    root = Path(root)
    if not root.is_dir():
        msg = f"Datasets folder {root} does not exist. Set PLANTPULSE_DATASETS to it. {_HELP}"
        raise DatasetError(msg)
    folder = root / manifest.folder
    if not folder.is_dir():
        msg = (
            f"{manifest.dataset}: folder {folder} is missing (expected {len(manifest.files)} files "
            f"there). {_HELP}"
        )
        raise DatasetError(msg)
    return folder


def verify_files(root: Path | str, manifest: Manifest, level: Verify = "full") -> None:
    """Check every file of ``manifest`` exists with the published size (and sha256 if full)."""
    if level not in VERIFY_LEVELS:
        msg = f"verify must be one of {', '.join(VERIFY_LEVELS)}. Got {level!r}."
        raise ValueError(msg)
    folder = dataset_folder(root, manifest)
    if level == "none":
        return
    missing = [spec.name for spec in manifest.files if not (folder / spec.name).is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
        msg = f"{manifest.dataset}: {len(missing)} file(s) missing in {folder}: {shown}. {_HELP}"
        raise DatasetError(msg)
    for spec in manifest.files:
        check_file(folder / spec.name, spec, manifest.dataset, level)


def _raw_matches(path: Path, spec: FileSpec, level: Verify) -> bool:
    """True when ``path`` is a gzip whose decompressed bytes are the published original."""
    if spec.raw_sha256 is None:
        return False
    try:
        with gzip.open(path, "rb") as fh:
            digest = sha256_stream(fh)
            size = fh.tell()
    except (OSError, EOFError):
        return False
    return size == spec.raw_size and (level != "full" or digest.hexdigest() == spec.raw_sha256)


def check_file(path: Path, spec: FileSpec, dataset: str, level: Verify) -> None:
    size = path.stat().st_size
    seen = sha256_file(path) if level == "full" else spec.sha256
    if (size == spec.size and seen == spec.sha256) or _raw_matches(path, spec, level):
        return
    if size != spec.size:
        msg = (
            f"{dataset}: {path} has {size} bytes, the published file has {spec.size}. The file is "
            f"truncated or altered; replace it with the original. {_HELP}"
        )
        raise DatasetError(msg)
    msg = (
        f"{dataset}: {path} sha256 is {seen}, expected {spec.sha256}. The file was altered; "
        f"replace it with the original. {_HELP}"
    )
    raise DatasetError(msg)


def check_count(dataset: str, what: str, seen: object, expected: object) -> None:
    """Raise when a parsed count differs from the published one."""
    if seen != expected:
        msg = (
            f"{dataset}: {what} is {seen}, the published dataset has {expected}. The files were "
            f"altered or are another version; replace them with the originals. {_HELP}"
        )
        raise DatasetError(msg)


def check_counts(dataset: str, seen: Mapping[str, object], expected: Mapping[str, object]) -> None:
    for key, value in expected.items():
        check_count(dataset, key, seen.get(key), value)
