"""Content hashes: the one place a file's sha256 is computed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


def sha256_stream(handle: BinaryIO, digest: hashlib._Hash | None = None) -> hashlib._Hash:
    """Feed ``handle`` into ``digest`` (a new sha256 when None) in 1 MiB blocks; returns it."""
    digest = digest or hashlib.sha256()
    while block := handle.read(CHUNK):
        digest.update(block)
    return digest


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in blocks (bounded memory for any size)."""
    with Path(path).open("rb") as handle:
        return sha256_stream(handle).hexdigest()
