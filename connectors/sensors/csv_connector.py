"""The ``csv`` connector: sensor CSV files, wide or long, read fast and checked cell by cell.

Unquoted files (the usual machine export) take the fast path: numpy cuts the bytes into blocks of
whole lines with exact line numbers and checks each line, Arrow parses the clean lines into typed
columns. Files with quote characters take the exact csv-module path. Both feed the same
converters, so the same cell is judged the same way on either path.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path

from plantpulse.connectors.base import SensorStream
from plantpulse.connectors.line_breaks import CrAsLf, FileShape, scan_file
from plantpulse.connectors.sensors.build import ChunkContext, ChunkMeta, build_long, build_wide
from plantpulse.connectors.sensors.convert import TimeParsing
from plantpulse.connectors.sensors.header import ColumnPlan, plan_columns
from plantpulse.connectors.sensors.lines import check_lines, iter_line_blocks
from plantpulse.connectors.sensors.options import SensorOptions
from plantpulse.connectors.sensors.parse import parse_block
from plantpulse.connectors.sensors.quoted import iter_quoted
from plantpulse.connectors.sensors.raw import BlockText
from plantpulse.connectors.unpack import PlainFile, unpack
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import SensorChunk, SensorSourceInfo

_HEADER_SEARCH = 1 << 20


def read_header(path: Path, options: SensorOptions, source: str) -> tuple[list[str], int, int]:
    """(header fields, header line number, byte offset after the header line)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEADER_SEARCH)
    except OSError as err:
        raise InputDataError(f"{source}: cannot read the file ({err.strerror or err}).") from err
    if not head.strip():
        raise InputDataError(f"{source}: the file is empty; expected a header line and data rows.")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)):  # and UTF-32 LE
        msg = (f"{source}: the file is UTF-16 or UTF-32 text (it starts with a byte-order mark); convert it "
               "to UTF-8 first, e.g. iconv -f UTF-16 -t UTF-8 in.csv > out.csv.")
        raise InputDataError(msg)
    if options.columns is not None:  # no header line: every line is data
        return list(options.columns), 0, len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    offset, number = 0, 0
    for raw in head.splitlines(keepends=True):
        number += 1
        if raw.strip(b"\r\n\t " + options.delimiter.encode()):
            break
        offset += len(raw)
    else:
        raise InputDataError(f"{source}: no header line found in the first {_HEADER_SEARCH} bytes.")
    if not raw.endswith((b"\n", b"\r")) and offset + len(raw) == len(head) == _HEADER_SEARCH:
        raise InputDataError(f"{source}: the header line is longer than {_HEADER_SEARCH} bytes.")
    encoding = "utf-8-sig" if options.encoding == "utf-8" and offset == 0 else options.encoding
    try:
        text = raw.decode(encoding).rstrip("\r\n")
    except UnicodeDecodeError as err:
        msg = f"{source}:{number}: the header is not valid {options.encoding} text ({err.reason}); pass --encoding."
        raise InputDataError(msg) from err
    fields = next(csv.reader([text], delimiter=options.delimiter)) if '"' in text else text.split(options.delimiter)
    return fields, number, offset + len(raw)


def _notes(shape: FileShape) -> tuple[str, ...]:
    notes = ("quoted CSV: read with the exact (slower) csv-module path",) if shape.quoted else ()
    return notes + (("lines end with a lone carriage return (\\r): read as line breaks",) if shape.cr_only else ())


def _closing(chunks: Iterator[SensorChunk], plain: PlainFile) -> Iterator[SensorChunk]:
    try:
        yield from chunks
    finally:
        plain.close()


class CsvConnector:
    """Reads sensor CSV files; construct with :class:`SensorOptions`, then :meth:`open` a file."""

    name = "csv"

    def __init__(self, options: SensorOptions | None = None) -> None:
        self.options = options or SensorOptions()

    def open(self, path: str | Path, source: str | None = None) -> SensorStream:
        """Read the header and plan the columns; rows are read as the stream is iterated.

        A gzip file or a zip holding one CSV is unpacked first (:func:`unpack`); the temporary
        copy is removed when the stream is exhausted or closed."""
        path = Path(path)
        source = source or path.name
        if not path.is_file():
            raise InputDataError(f"{source}: no such file ({path}).")
        plain = unpack(path, source, self.options.max_unpacked_mb)
        try:
            stream = self._open_text(plain.path, source, plain.note())
        except BaseException:
            plain.close()
            raise
        return SensorStream(stream.info, _closing(stream.chunks, plain))

    def _open_text(self, path: Path, source: str, notes: tuple[str, ...]) -> SensorStream:
        fields, header_line, offset = read_header(path, self.options, source)
        plan = plan_columns(fields, self.options, source)
        ctx = ChunkContext(source, plan, self.options, TimeParsing.of(self.options),
                           frozenset(self.options.na_values))
        shape = scan_file(path)
        info = SensorSourceInfo(
            source=source, layout=plan.layout, columns=plan.names,
            time_column=plan.names[plan.time_index], asset_column=plan.column(plan.asset_index),
            channels=plan.channels, timezone=self.options.timezone,
            progress_total=path.stat().st_size, progress_unit="B",
            notes=notes + _notes(shape),
        )
        rows = self.options.rows_per_chunk(max(1, len(plan.value_indices)))
        chunks = (self._quoted(path, ctx, header_line, rows, shape) if shape.quoted
                  else self._fast(path, ctx, header_line, offset, rows, shape))
        return SensorStream(info, chunks)

    @staticmethod
    def _build(table, ctx: ChunkContext, meta: ChunkMeta) -> SensorChunk:
        return (build_wide if ctx.plan.layout == "wide" else build_long)(table, ctx, meta)

    def _fast(self, path: Path, ctx: ChunkContext, header_line: int, offset: int, rows: int,
              shape: FileShape) -> Iterator[SensorChunk]:
        plan: ColumnPlan = ctx.plan
        with path.open("rb") as handle:
            handle.seek(offset)
            stream = CrAsLf(handle) if shape.cr_only else handle
            for block in iter_line_blocks(stream, header_line + 1, rows, offset):
                check = check_lines(block, len(plan.names), self.options.delimiter,
                                    self.options.encoding, ctx.source)
                good = check.good
                meta = ChunkMeta(good.numbers, BlockText(good, self.options.encoding),
                                 rows=len(block) - check.blank, blank=check.blank,
                                 rejections=check.rejections, progress=block.end_offset)
                yield self._build(parse_block(good, ctx), ctx, meta)

    def _quoted(self, path: Path, ctx: ChunkContext, header_line: int, rows: int, shape: FileShape
                ) -> Iterator[SensorChunk]:
        for table, meta in iter_quoted(path, ctx, header_line, rows, cr_only=shape.cr_only):
            yield self._build(table, ctx, meta)
