"""What a text file's bytes look like before it is parsed: quote characters, and line breaks.

Most files end their lines with ``\\n`` or ``\\r\\n``. Some loggers and classic Mac OS software
end them with a lone ``\\r``; read as ``\\n`` files, such a file is one long line. A file with
``\\r`` and no ``\\n`` at all is read with ``\\r`` as its line break; every ``\\r`` then becomes a
``\\n`` byte for byte, so offsets and line numbers stay those of the file. A file that mixes both
is read by ``\\n``, and its lines with a ``\\r`` inside are quarantined (``stray_cr``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_PIECE = 1 << 24


@dataclass(frozen=True, slots=True)
class FileShape:
    """``quoted``: the file holds a quote character; ``cr_only``: its lines end with a lone ``\\r``."""

    quoted: bool
    cr_only: bool


def scan_file(path: Path) -> FileShape:
    """One pass over the bytes; stops as soon as the answer cannot change."""
    quoted = has_lf = has_cr = False
    with path.open("rb") as handle:
        while piece := handle.read(_PIECE):
            quoted = quoted or b'"' in piece
            has_lf = has_lf or b"\n" in piece
            has_cr = has_cr or b"\r" in piece
            if quoted and has_lf:
                break
    return FileShape(quoted, has_cr and not has_lf)


class CrAsLf:
    """Reads a binary stream with every ``\\r`` turned into ``\\n`` (same length, same offsets)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size).replace(b"\r", b"\n")
