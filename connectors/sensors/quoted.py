"""The exact, slower path for CSV files that use quotes (fields may hold delimiters or newlines).

:class:`~plantpulse.connectors.csv_records.RecordReader` splits records (Python's csv module,
with quoted fields bounded by the line structure: an unclosed quote costs only its own record)
and keeps the line where each record starts, so messages point at the right line. Records are
gathered into chunks of text columns and go through the same converters as the fast path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from plantpulse.connectors.csv_records import CsvRecord, RecordReader
from plantpulse.connectors.sensors.build import ChunkContext, ChunkMeta
from plantpulse.connectors.sensors.raw import RecordText, clean_text
from plantpulse.data.core.records import Rejection

_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes the codec could not decode (surrogateescape)


def _problem(record: list[str], text: str, n_fields: int, ctx: ChunkContext) -> tuple[str, str] | None:
    if "\x00" in text:
        return "line contains a NUL byte (binary data in a text file?)", "nul_byte"
    if _UNDECODABLE.search(text):
        return f"not valid {ctx.options.encoding} text; pass --encoding", "encoding"
    if len(record) != n_fields:
        return (f"expected {n_fields} fields separated by {ctx.options.delimiter!r}, "
                f"found {len(record)}"), "field_count"
    return None


def iter_quoted(path: Path, ctx: ChunkContext, header_line: int, rows_per_chunk: int, *,
                cr_only: bool = False) -> Iterator[tuple[pa.Table, ChunkMeta]]:
    """(text table of the used columns, bookkeeping) per chunk of records after the header.
    ``cr_only``: the file's lines end with a lone ``\\r``."""
    plan, n_fields = ctx.plan, len(ctx.plan.names)
    encoding = "utf-8-sig" if ctx.options.encoding == "utf-8" else ctx.options.encoding
    newline = "\r" if cr_only else "\n"
    with path.open(encoding=encoding, errors="surrogateescape", newline=newline) as handle:
        for _ in range(header_line):
            next(handle, None)
        reader = RecordReader(handle, header_line + 1, delimiter=ctx.options.delimiter, n_fields=n_fields,
                              max_field_chars=ctx.options.max_field_chars)
        while True:
            chunk = _read_chunk(reader, ctx, n_fields, rows_per_chunk)
            if chunk is None:
                return
            records, numbers, texts, rejections, blank = chunk
            columns = {plan.names[i]: pa.array([r[i] for r in records], pa.string()) for i in plan.used}
            meta = ChunkMeta(np.asarray(numbers, np.int64), RecordText(np.asarray(numbers, np.int64), tuple(texts)),
                             rows=len(records) + len(rejections), blank=blank,
                             rejections=tuple(rejections), progress=reader.read_chars)
            yield pa.table(columns) if columns else pa.table({}), meta


def _rejection(record: CsvRecord, ctx: ChunkContext, problem: tuple[str, str]) -> Rejection:
    raw = clean_text(record.text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    return Rejection(ctx.source, record.line, None, problem[0], raw, problem[1])


def _read_chunk(reader: RecordReader, ctx: ChunkContext, n_fields: int, limit: int
                ) -> tuple[list[list[str]], list[int], list[str], list[Rejection], int] | None:
    records: list[list[str]] = []
    numbers: list[int] = []
    texts: list[str] = []
    rejections: list[Rejection] = []
    blank, done = 0, False
    while len(records) + len(rejections) < limit:
        record = next(reader, None)
        if record is None:
            done = True
            break
        if record.blank:
            blank += 1
            continue
        problem = record.problem or _problem(record.fields, record.text, n_fields, ctx)
        if problem is not None:
            rejections.append(_rejection(record, ctx, problem))
            continue
        records.append(record.fields)
        numbers.append(record.line)
        texts.append(record.text)
    if done and not records and not rejections and not blank:
        return None
    return records, numbers, texts, rejections, blank
