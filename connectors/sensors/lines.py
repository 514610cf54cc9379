"""Splitting a text file into blocks of whole lines with exact line numbers, without per-line Python.

The CSV connector never lets a parser guess where rows start: it cuts the bytes at newlines with
numpy, so every data row keeps its exact line number, and it checks each line's field count,
encoding and stray control bytes vectorised before the block goes to Arrow's CSV parser. Lines
that fail a check are rejected with the reason; the rest of the block is parsed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from plantpulse.data.core.records import Rejection

NEWLINE, CR, NUL = 10, 13, 0
_PIECE = 1 << 23


@dataclass(frozen=True, slots=True)
class LineBlock:
    """Whole lines of a file. starts/ends (L,) int64 byte offsets into ``data`` (ends exclude the
    line break); numbers (L,) int64 1-based line numbers; ``end_offset`` is the file position
    after the block."""

    data: bytes
    starts: np.ndarray
    ends: np.ndarray
    numbers: np.ndarray
    end_offset: int

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def line_bytes(self, i: int) -> bytes:
        return self.data[int(self.starts[i]) : int(self.ends[i])]

    def take(self, keep: np.ndarray) -> LineBlock:
        return LineBlock(self.data, self.starts[keep], self.ends[keep], self.numbers[keep], self.end_offset)

    def joined(self) -> bytes:
        """The lines as one buffer, one ``\\n`` after each (what the parser reads)."""
        if len(self) == 0:
            return b""
        gaps = self.starts[1:] - self.ends[:-1]
        arr = np.frombuffer(self.data, np.uint8)
        crlf = (gaps == 2) & (arr[np.minimum(self.ends[:-1], len(arr) - 1)] == CR)
        if bool(np.all((gaps == 1) | crlf)):  # adjacent lines: only \n or \r\n between them
            return self.data[int(self.starts[0]) : int(self.ends[-1])] + b"\n"
        view = memoryview(self.data)
        return b"\n".join(view[s:e] for s, e in zip(self.starts.tolist(), self.ends.tolist(), strict=True)) + b"\n"


def _block(data: bytes, newlines: np.ndarray, first_line: int, end_offset: int) -> LineBlock:
    """Lines of ``data`` ending at ``newlines`` (plus a last unterminated line, if any)."""
    ends = newlines.astype(np.int64)
    if len(data) and (len(ends) == 0 or ends[-1] != len(data) - 1):
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64) if len(ends) else ends
    arr = np.frombuffer(data, np.uint8)
    has_cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == CR) if len(ends) else ends.astype(bool)
    ends = ends - has_cr
    numbers = np.arange(first_line, first_line + len(starts), dtype=np.int64)
    return LineBlock(data, starts, ends, numbers, end_offset)


def iter_line_blocks(stream: BinaryIO, first_line: int, lines_per_block: int, offset: int
                     ) -> Iterator[LineBlock]:
    """Blocks of at most ``lines_per_block`` whole lines read from ``stream`` (at ``offset``)."""
    pending = b""
    line = first_line
    eof = False
    while not eof:
        piece = stream.read(_PIECE)
        eof = not piece
        data = pending + piece
        newlines = np.flatnonzero(np.frombuffer(data, np.uint8) == NEWLINE)
        used = 0
        while len(newlines) - used >= lines_per_block:
            cut = int(newlines[used + lines_per_block - 1]) + 1
            start = int(newlines[used - 1]) + 1 if used else 0
            offset += cut - start
            yield _block(data[start:cut], newlines[used : used + lines_per_block] - start, line, offset)
            line += lines_per_block
            used += lines_per_block
        start = int(newlines[used - 1]) + 1 if used else 0
        pending = data[start:]
        if eof and pending:
            offset += len(pending)
            rest = np.flatnonzero(np.frombuffer(pending, np.uint8) == NEWLINE)
            yield _block(pending, rest, line, offset)


def _line_of(block: LineBlock, positions: np.ndarray) -> np.ndarray:
    """Line index of each byte position that lies inside a line's content; others dropped."""
    line = np.searchsorted(block.starts, positions, side="right") - 1
    return line[positions < block.ends[line]]


def _lines_with(block: LineBlock, arr: np.ndarray, byte_mask: np.ndarray) -> np.ndarray:
    """Boolean (L,): which lines contain, inside their content, a byte where the mask is true."""
    hit = np.zeros(len(block), bool)
    hit[_line_of(block, np.flatnonzero(byte_mask))] = True
    return hit


@dataclass(frozen=True, slots=True)
class LineCheck:
    """Result of :func:`check_lines`: the lines to parse, rejected lines, blank lines skipped."""

    good: LineBlock
    rejections: tuple[Rejection, ...]
    blank: int
    rejected_lines: int


def _reject(block: LineBlock, i: int, source: str, reason: str, code: str, encoding: str) -> Rejection:
    raw = block.line_bytes(i).decode(encoding, errors="replace").replace("\x00", "\\x00")
    return Rejection(source, int(block.numbers[i]), None, reason, raw, code)


def _undecodable(block: LineBlock, suspects: np.ndarray, encoding: str) -> dict[int, str]:
    """Lines among ``suspects`` that are not valid ``encoding``, with the decoder's complaint."""
    bad: dict[int, str] = {}
    for i in np.flatnonzero(suspects).tolist():
        try:
            block.line_bytes(i).decode(encoding)
        except UnicodeDecodeError as err:
            bad[i] = f"byte 0x{err.object[err.start]:02x} at character {err.start + 1}"
    return bad


def check_lines(block: LineBlock, n_fields: int, delimiter: str, encoding: str, source: str) -> LineCheck:
    """Drop blank lines; reject lines with a wrong field count, NUL/CR bytes or bad encoding."""
    arr = np.frombuffer(block.data, np.uint8)
    if len(block) == 0:
        return LineCheck(block, (), 0, 0)
    nul = _lines_with(block, arr, arr == NUL)
    cr_inside = _lines_with(block, arr, arr == CR)
    fields = 1 + np.bincount(_line_of(block, np.flatnonzero(arr == ord(delimiter))),
                             minlength=len(block))
    blank = (block.ends - block.starts) == fields - 1  # empty, or only delimiters (',,,,')
    high = _lines_with(block, arr, arr >= 0x80) & ~nul
    bad_text = _undecodable(block, high, encoding) if high.any() and not _decodes(block.data, encoding) else {}
    rejections: list[Rejection] = []
    bad = np.zeros(len(block), bool)
    for i in np.flatnonzero(~blank & (nul | cr_inside | (fields != n_fields))).tolist() + list(bad_text):
        if bad[i]:
            continue
        bad[i] = True
        if nul[i]:
            reason, code = "line contains a NUL byte (binary data in a text file?)", "nul_byte"
        elif i in bad_text:
            reason, code = f"not valid {encoding} text ({bad_text[i]}); pass --encoding", "encoding"
        elif cr_inside[i]:
            reason, code = "line contains a carriage return (\\r) inside it; save with \\n line endings", "stray_cr"
        else:
            reason = f"expected {n_fields} fields separated by {delimiter!r}, found {fields[i]}"
            code = "field_count"
        rejections.append(_reject(block, i, source, reason, code, encoding))
    rejections.sort(key=lambda r: r.line or 0)
    return LineCheck(block.take(~blank & ~bad), tuple(rejections), int(blank.sum()), int(bad.sum()))


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True

