"""Compressed text input: a sensor or log file sent as ``.csv.gz`` or as a zip holding one file.

The bytes decide, not the name: gzip and zip are recognised by their first bytes, so a compressed
file named ``.csv`` is read as what it is instead of failing as "not valid utf-8". It is unpacked
into a private temporary file, bounded by ``max_unpacked_mb`` (a zip or gzip bomb stops there),
which is removed when the reader closes it. Other binary formats (a workbook, a Parquet or
MATLAB file, other archives) are named in the error, with what to do, instead of being read as
garbled text.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import weakref
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from plantpulse.connectors.images.archive import ArchiveLimits, check_zip
from plantpulse.data.core.errors import InputDataError, UploadRejectedError

MB = 1024 * 1024
_PIECE = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_JUNK = ("__MACOSX/", ".DS_Store", "Thumbs.db")

# First bytes of binary formats that are not text, and what to do with each.
_BINARY: tuple[tuple[bytes, str, str], ...] = (
    (b"PAR1", "a Parquet file", "name it .parquet (or pass --connector parquet)"),
    (b"MATLAB 5.0 MAT-file", "a MATLAB .mat file", "name it .mat and give --rate-hz and --epoch"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (MATLAB v7.3 .mat files are HDF5)",
     "export the data as CSV, or save the .mat with save(..., '-v7')"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel workbook (.xls) or other Office file", "save the sheet as CSV"),
    (b"BZh", "bzip2-compressed", "decompress it (bunzip2), or compress it with gzip instead (.csv.gz)"),
    (b"\xfd7zXZ\x00", "xz-compressed", "decompress it (unxz), or compress it with gzip instead (.csv.gz)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "unpack it, or zip the one file it holds"),
    (b"Rar!", "a RAR archive", "unpack it, or zip the one file it holds"),
    (b"%PDF", "a PDF document", "export the data as CSV"),
    (GZIP_MAGIC, "gzip-compressed", "decompress it once more (gunzip)"),
    (ZIP_MAGIC[0], "a zip archive (an Excel .xlsx workbook is one)", "save a workbook's sheet as CSV, or unzip it"),
)


def describe_binary(head: bytes) -> tuple[str, str] | None:
    """(what a known binary format is, what to do with it), or None for anything else."""
    for magic, what, fix in _BINARY:
        if head.startswith(magic):
            return what, fix
    return None


@dataclass(slots=True, weakref_slot=True)
class PlainFile:
    """A file ready to be read as text: ``path`` itself, or a temporary unpacked copy.

    ``packed`` is "gzip" or "zip" when it was unpacked (else None) and ``name`` the name of the
    text inside (the zip member, or the file name without ``.gz``), which decides e.g. CSV or
    JSON. :meth:`close` removes the temporary copy (also done when the object is collected)."""

    path: Path
    name: str
    packed: str | None = None
    _cleanup: weakref.finalize | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup()

    def note(self) -> tuple[str, ...]:
        return (f"unpacked from {self.packed}: {self.name}",) if self.packed else ()

    def __enter__(self) -> PlainFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _head(path: Path, label: str) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(64)
    except OSError as err:
        raise InputDataError(f"{label}: cannot read the file ({err.strerror or err}).") from err


def _too_big(label: str, limit_mb: float) -> UploadRejectedError:
    return UploadRejectedError(f"{label}: unpacks to more than the limit of {limit_mb:g} MB "
                               "(ingest.max_upload_mb); split the file.")


def _copy(source, target: Path, label: str, limit_mb: float) -> None:
    written = 0
    with target.open("wb") as out:
        while piece := source.read(_PIECE):
            written += len(piece)
            if written > limit_mb * MB:
                raise _too_big(label, limit_mb)
            out.write(piece)


def _zip_member(path: Path, label: str, limit_mb: float) -> tuple[zipfile.ZipFile, zipfile.ZipInfo]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise InputDataError(f"{label}: not a readable zip file ({err}).") from err
    try:
        members = [m for m in check_zip(archive, label, ArchiveLimits(max_upload_mb=limit_mb))
                   if not any(part in m.filename for part in _JUNK)]
    except BaseException:
        archive.close()
        raise
    if any(m.filename == "xl/workbook.xml" for m in members):
        archive.close()
        raise InputDataError(f"{label}: this is an Excel workbook (.xlsx), not a text file; save the sheet as CSV.")
    if len(members) != 1:
        archive.close()
        names = ", ".join(m.filename for m in members[:5]) + (" ..." if len(members) > 5 else "")
        held = f"{len(members)} files ({names})" if members else "no file"
        msg = (f"{label}: a zip must hold exactly one data file, but it holds {held}; "
               "zip the one file alone, or unpack it and ingest each file.")
        raise InputDataError(msg)
    return archive, members[0]


def _unpack_into(folder: Path, path: Path, label: str, kind: str, limit_mb: float) -> Path:
    try:
        if kind == "gzip":
            name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
            target = folder / (Path(name).name or "data")
            with gzip.open(path, "rb") as source:
                _copy(source, target, label, limit_mb)
            return target
        archive, member = _zip_member(path, label, limit_mb)
        with archive:
            target = folder / (PurePosixPath(member.filename.replace("\\", "/")).name or "data")
            with archive.open(member) as source:
                _copy(source, target, label, limit_mb)
            return target
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as err:
        msg = f"{label}: the {kind} data is damaged or cut short ({err}); compress the file again."
        raise InputDataError(msg) from err


def unpack(path: Path, label: str, max_unpacked_mb: float = 512.0, *, text: bool = True) -> PlainFile:
    """``path`` ready to be read: unpacked when it is gzip or a one-file zip.

    With ``text`` (the default), binary formats that are not text raise :class:`InputDataError`
    naming the format and the fix. :class:`UploadRejectedError` when it unpacks to more than
    ``max_unpacked_mb``."""
    head = _head(path, label)
    kind = "gzip" if head.startswith(GZIP_MAGIC) else "zip" if head.startswith(ZIP_MAGIC) else None
    if kind is None:
        known = describe_binary(head) if text else None
        if known is not None:
            raise InputDataError(f"{label}: this is {known[0]}, not a text file; {known[1]}.")
        return PlainFile(path, path.name)
    folder = Path(tempfile.mkdtemp(prefix="plantpulse-unpack-"))
    try:
        target = _unpack_into(folder, path, label, kind, max_unpacked_mb)
        inner = _head(target, label)
        known = describe_binary(inner) if text else (
            describe_binary(inner) if inner.startswith((GZIP_MAGIC, *ZIP_MAGIC)) else None)
        if known is not None:
            raise InputDataError(f"{label}: the {kind} data ({target.name}) is {known[0]}"
                                 + (", not a text file" if text else "") + f"; {known[1]}.")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    plain = PlainFile(target, target.name, kind)
    plain._cleanup = weakref.finalize(plain, shutil.rmtree, folder, ignore_errors=True)
    return plain
