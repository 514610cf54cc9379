"""Parsing a block of checked lines with Arrow's CSV reader: typed first, text where that fails.

A clean block is parsed straight into float64/timestamp columns (C++, both cores). When a cell
does not convert, Arrow names the column; that column alone is re-read as text and goes through
the exact converters, which find every bad cell. So a dirty cell costs one column of one chunk,
not the whole file.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.csv as pacsv

from plantpulse.connectors.sensors.build import ChunkContext
from plantpulse.connectors.sensors.convert import _ZONE
from plantpulse.connectors.sensors.lines import LineBlock

_COLUMN_NUMBER = re.compile(r"column #(\d+)")
_ZONE_RE = re.compile(_ZONE)


def _time_type(block: LineBlock, ctx: ChunkContext) -> pa.DataType:
    """Arrow type for the time column, judged from the block's first line."""
    how = ctx.time
    if how.epoch_unit is not None:
        return pa.float64()
    if how.time_format is not None or len(block) == 0:
        return pa.string()
    first = block.line_bytes(0).decode("utf-8", errors="replace").split(ctx.options.delimiter)
    cell = first[ctx.plan.time_index].strip() if len(first) > ctx.plan.time_index else ""
    return pa.timestamp("us", tz="UTC") if _ZONE_RE.search(cell) else pa.timestamp("us")


def column_types(block: LineBlock, ctx: ChunkContext) -> dict[str, pa.DataType]:
    """Typed-parse types of every used column."""
    plan = ctx.plan
    types = {name: pa.string() for name in (plan.names[i] for i in plan.used)}
    types[plan.names[plan.time_index]] = _time_type(block, ctx)
    for i in plan.value_indices:
        types[plan.names[i]] = pa.float64()
    if plan.value_index is not None:
        types[plan.names[plan.value_index]] = pa.float64()
    return types


def _read(data: bytes, ctx: ChunkContext, types: dict[str, pa.DataType]) -> pa.Table:
    return pacsv.read_csv(
        pa.py_buffer(data),
        read_options=pacsv.ReadOptions(column_names=list(ctx.plan.names), use_threads=True,
                                       block_size=1 << 22),
        parse_options=pacsv.ParseOptions(delimiter=ctx.options.delimiter, quote_char=False,
                                         double_quote=False, escape_char=False,
                                         newlines_in_values=False, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types=types, include_columns=list(types),
            null_values=["", *ctx.options.na_values], strings_can_be_null=False,
            quoted_strings_can_be_null=False, check_utf8=True),
    )


def parse_block(block: LineBlock, ctx: ChunkContext) -> pa.Table:
    """The block's used columns: typed where every cell converts, text elsewhere."""
    if len(block) == 0:
        return pa.table({ctx.plan.names[i]: pa.array([], pa.string()) for i in ctx.plan.used})
    data = block.joined()
    if ctx.options.encoding != "utf-8":
        data = data.decode(ctx.options.encoding).encode("utf-8")
    types = column_types(block, ctx)
    for _ in range(len(types) + 1):
        try:
            return _read(data, ctx, types)
        except pa.ArrowInvalid as err:
            match = _COLUMN_NUMBER.search(str(err))
            name = ctx.plan.names[int(match.group(1))] if match else None
            if name is None or name not in types or types[name] == pa.string():
                types = dict.fromkeys(types, pa.string())
            else:
                types[name] = pa.string()
    return _read(data, ctx, dict.fromkeys(types, pa.string()))
