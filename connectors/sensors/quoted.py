"""The exact, slower path for CSV files that use quotes (fields may hold delimiters or newlines).

Python's csv module splits records; the line where each record starts is tracked so messages
still point at the right line. Records are gathered into chunks of text columns and go through
the same converters as the fast path.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from plantpulse.connectors.sensors.build import ChunkContext, ChunkMeta
from plantpulse.connectors.sensors.raw import RecordText, clean_text
from plantpulse.data.core.records import Rejection

_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes the codec could not decode (surrogateescape)


class _Lines:
    """Iterates a text file's lines, remembering those read since the last ``take()``."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.buffer: list[str] = []
        self.read_chars = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self.handle)
        self.buffer.append(line)
        self.read_chars += len(line)
        return line

    def take(self) -> str:
        text = "".join(self.buffer).rstrip("\r\n")
        self.buffer.clear()
        return text


def _problem(record: list[str], text: str, n_fields: int, ctx: ChunkContext) -> tuple[str, str] | None:
    if "\x00" in text:
        return "line contains a NUL byte (binary data in a text file?)", "nul_byte"
    if _UNDECODABLE.search(text):
        return f"not valid {ctx.options.encoding} text; pass --encoding", "encoding"
    if len(record) != n_fields:
        return (f"expected {n_fields} fields separated by {ctx.options.delimiter!r}, "
                f"found {len(record)}"), "field_count"
    return None


def iter_quoted(path: Path, ctx: ChunkContext, header_line: int, rows_per_chunk: int
                ) -> Iterator[tuple[pa.Table, ChunkMeta]]:
    """(text table of the used columns, bookkeeping) per chunk of records after the header."""
    plan, n_fields = ctx.plan, len(ctx.plan.names)
    encoding = "utf-8-sig" if ctx.options.encoding == "utf-8" else ctx.options.encoding
    with path.open(encoding=encoding, errors="surrogateescape", newline="\n") as handle:
        lines = _Lines(handle)
        for _ in range(header_line):
            next(lines)
        lines.take()
        reader = csv.reader(lines, delimiter=ctx.options.delimiter, strict=False)
        state = {"line": header_line, "base": header_line}
        while True:
            chunk = _read_chunk(reader, lines, ctx, n_fields, rows_per_chunk, state)
            if chunk is None:
                return
            records, numbers, texts, rejections, blank = chunk
            columns = {plan.names[i]: pa.array([r[i] for r in records], pa.string()) for i in plan.used}
            meta = ChunkMeta(np.asarray(numbers, np.int64), RecordText(np.asarray(numbers, np.int64), tuple(texts)),
                             rows=len(records) + len(rejections), blank=blank,
                             rejections=tuple(rejections), progress=lines.read_chars)
            yield pa.table(columns) if columns else pa.table({}), meta


def _read_chunk(reader, lines: _Lines, ctx: ChunkContext, n_fields: int, limit: int,
                state: dict[str, int]):
    records: list[list[str]] = []
    numbers: list[int] = []
    texts: list[str] = []
    rejections: list[Rejection] = []
    blank, done = 0, False
    while len(records) + len(rejections) < limit:
        first = state["line"] + 1
        try:
            record = next(reader)
        except StopIteration:
            done = True
            break
        except csv.Error as err:
            state["line"] = state["base"] + reader.line_num
            text = clean_text(lines.take())
            rejections.append(Rejection(ctx.source, first, None, f"not a valid CSV record ({err})", text, "csv_syntax"))
            continue
        state["line"] = state["base"] + reader.line_num
        text = lines.take()
        if not any(field.strip() for field in record):
            blank += 1
            continue
        problem = _problem(record, text, n_fields, ctx)
        if problem is not None:
            raw = clean_text(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
            rejections.append(Rejection(ctx.source, first, None, problem[0], raw, problem[1]))
            continue
        records.append(record)
        numbers.append(first)
        texts.append(text)
    if done and not records and not rejections and not blank:
        return None
    return records, numbers, texts, rejections, blank
