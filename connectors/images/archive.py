"""Safe reading of uploaded image archives and folders.

A zip is checked as a whole before any member is read: size, member count, unpacked size, each
member's compression ratio (zip bombs), names that climb out of the archive (path traversal),
symbolic links, encrypted members, archives inside the archive and two members with one name.
Any of these refuses the whole upload with :class:`UploadRejectedError`; nothing is ever
extracted to disk. In a folder only regular files are read: symbolic links, FIFOs and devices
are skipped and reported (a FIFO would block the reader forever); :func:`regular_files` is that
folder walk, also used by ``weld predict`` and ``weld classify predict``.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from plantpulse.data.core.errors import InputDataError, UploadRejectedError

NESTED_ARCHIVES = (".zip", ".jar", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar", ".zst")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Upload guards (from ``Settings.ingest``)."""

    max_upload_mb: float = 512.0
    max_zip_ratio: float = 100.0
    max_zip_members: int = 20_000


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of an upload: its path inside the upload (POSIX form) and how to read it."""

    name: str
    size: int
    _zip: zipfile.ZipFile | None = None
    _info: zipfile.ZipInfo | None = None
    _path: Path | None = None

    def read(self) -> bytes:
        if self._path is not None:
            return self._path.read_bytes()
        assert self._zip is not None and self._info is not None  # internal: zip entries carry both
        with self._zip.open(self._info) as handle:
            data = handle.read(self._info.file_size + 1)
        if len(data) != self._info.file_size:
            msg = f"{self.name}: unpacks to more bytes than the archive declares; the upload is refused."
            raise UploadRejectedError(msg)
        if data[:4] in _ZIP_MAGIC:
            raise UploadRejectedError(f"{self.name}: an archive inside the archive is not accepted; upload it on its own.")
        return data


def _unsafe_name(name: str) -> str | None:
    """Why a member name is unsafe, or None."""
    normalized = name.replace("\\", "/")
    parts = PurePosixPath(normalized).parts
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return "an absolute path"
    if ".." in parts:
        return "a path that climbs out of the archive ('..')"
    return None


def check_zip(archive: zipfile.ZipFile, label: str, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """The archive's file members, or UploadRejectedError naming the first reason to refuse it."""
    members = archive.infolist()
    if len(members) > limits.max_zip_members:
        msg = (f"{label}: {len(members)} members is more than the limit of {limits.max_zip_members}; "
               "split the upload or raise ingest.max_zip_members.")
        raise UploadRejectedError(msg)
    total = sum(m.file_size for m in members)
    if total > limits.max_upload_mb * MB:
        msg = (f"{label}: unpacks to {total / MB:.1f} MB, more than the limit of "
               f"{limits.max_upload_mb:g} MB; split the upload.")
        raise UploadRejectedError(msg)
    for member in members:
        why = _unsafe_name(member.filename)
        if why is None and stat.S_ISLNK(member.external_attr >> 16):
            why = "a symbolic link"
        if why is None and member.flag_bits & 0x1:
            why = "encrypted"
        if why is None and member.filename.lower().endswith(NESTED_ARCHIVES):
            why = "an archive inside the archive"
        ratio = member.file_size / max(member.compress_size, 1)
        if why is None and member.file_size > MB and ratio > limits.max_zip_ratio:
            why = f"compressed {ratio:.0f}:1 (limit {limits.max_zip_ratio:g}:1), a zip bomb"
        if why is not None:
            raise UploadRejectedError(f"{label}: member {member.filename!r} is {why}; the upload is refused.")
    return [m for m in members if not m.is_dir()]


def _zip_entries(archive: zipfile.ZipFile, label: str, limits: ArchiveLimits) -> Listing:
    entries = [Entry(m.filename.replace("\\", "/"), m.file_size, _zip=archive, _info=m)
               for m in check_zip(archive, label, limits)]
    seen: set[str] = set()
    for entry in entries:  # one name, two members: which one is meant cannot be known
        if entry.name in seen:
            msg = (f"{label}: member {entry.name!r} appears twice in the archive; the upload is refused. "
                   "Remove or rename one of them and zip again.")
            raise UploadRejectedError(msg)
        seen.add(entry.name)
    return Listing(entries)


class Listing(list[Entry]):
    """The files of an upload, plus ``skipped``: (name, why) of what a folder held that is not a
    regular file (symbolic links, FIFOs, sockets, devices), which is never opened."""

    def __init__(self, entries: list[Entry], skipped: list[tuple[str, str]] | None = None) -> None:
        super().__init__(entries)
        self.skipped = skipped or []


def not_regular(mode: int) -> str | None:
    """Why a file of this ``lstat`` mode is skipped, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link (not followed)"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO); reading it would wait for a writer"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device or other special file"


def _folder_entries(root: Path) -> Listing:
    """Regular files under ``root`` in name order; what else it holds is in ``skipped``."""
    found, skipped = regular_files(root)
    entries = [Entry(p.relative_to(root).as_posix(), size, _path=p) for p, size in found]
    return Listing(entries, skipped)


def regular_files(root: Path) -> tuple[list[tuple[Path, int]], list[tuple[str, str]]]:
    """(path, size) of the regular files under ``root`` in path order, and (name relative to
    ``root``, why) of everything else. Symbolic links are not followed and, like FIFOs and
    devices, are never opened, so walking a folder never blocks on a named pipe."""
    found: list[tuple[Path, int]] = []
    skipped: list[tuple[str, str]] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(dirs):
            if (Path(folder) / name).is_symlink():
                skipped.append(((Path(folder) / name).relative_to(root).as_posix(), "a symbolic link (not followed)"))
        for name in files:
            path = Path(folder) / name
            info = path.lstat()
            why = not_regular(info.st_mode)
            if why is None:
                found.append((path, info.st_size))
            else:
                skipped.append((path.relative_to(root).as_posix(), why))
    return sorted(found), sorted(skipped)


@contextmanager
def open_upload(path: Path, label: str, limits: ArchiveLimits) -> Iterator[Listing]:
    """The files of a folder or zip upload (a zip stays open while the block runs); what a
    folder holds besides regular files is in the listing's ``skipped``."""
    if path.is_dir():
        yield _folder_entries(path)
        return
    if not path.is_file():
        raise InputDataError(f"{label}: no such folder or zip file ({path}).")
    size = path.stat().st_size
    if size > limits.max_upload_mb * MB:
        msg = f"{label}: {size / MB:.1f} MB is more than the upload limit of {limits.max_upload_mb:g} MB."
        raise UploadRejectedError(msg)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise InputDataError(f"{label}: not a readable zip file ({err}).") from err
    with archive:
        yield _zip_entries(archive, label, limits)
