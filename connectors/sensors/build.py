"""From a parsed chunk (an Arrow table) to a :class:`SensorChunk` plus reasoned rejections.

Row problems (asset, timestamp, and in long files channel/unit/status) reject the whole row; value
problems reject one cell, so the other channels of the same row still load. Empty cells are not
errors: a wide file often leaves a channel empty when it was not sampled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from plantpulse.connectors.sensors import convert as cv
from plantpulse.connectors.sensors.header import MAX_NAME, MAX_UNIT, ColumnPlan
from plantpulse.connectors.sensors.options import SensorOptions
from plantpulse.connectors.sensors.status import parse_status
from plantpulse.data.core.records import ChannelSpec, RawText, Rejection, SensorChunk


@dataclass(frozen=True, slots=True)
class ChunkContext:
    """What every chunk of one file is read with."""

    source: str
    plan: ColumnPlan
    options: SensorOptions
    time: cv.TimeParsing
    na_values: frozenset[str]
    units_seen: dict[str, str] = field(default_factory=dict)  # long files: unit of each channel


@dataclass(frozen=True, slots=True)
class ChunkMeta:
    """Bookkeeping that travels with a chunk: source lines (R,), raw text, counts, progress."""

    lines: np.ndarray
    raw: RawText | None
    rows: int
    blank: int = 0
    rejections: tuple[Rejection, ...] = ()
    progress: int = 0


def shown(text: str, limit: int = 80) -> str:
    """``text`` quoted for a message; a long one cut, with its length (a cell may hold megabytes)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[: limit // 2]!r}... ({len(text):,} characters)"


def _reason(code: int, text: str, ctx: ChunkContext, channel: str | None = None) -> str:
    how = ctx.time
    quoted = shown(text)
    if code == cv.NOT_NUMERIC:
        return (f"value {quoted} is not a number; if it means 'no value', pass --na-value {quoted}")
    if code == cv.NOT_FINITE:
        return f"value {quoted} is not a finite number; NaN and infinity are not stored"
    if code == cv.BAD_TIME:
        if not text.strip():
            return "timestamp is empty"
        if how.epoch_unit:
            return f"timestamp {quoted} is not a number of {how.epoch_unit} since {how.epoch_text()}"
        if how.time_format:
            return f"timestamp {quoted} does not match --time-format {how.time_format!r}"
        return f"timestamp {quoted} is not ISO 8601 (e.g. 2024-05-01T12:00:00Z); or pass --time-format"
    if code == cv.LOCAL_TIME:
        return (f"local time {quoted} does not exist or is ambiguous in {how.timezone} "
                "(daylight-saving change); write it with a UTC offset")
    if code == cv.TIME_RANGE:
        return (f"timestamp {quoted} is outside the accepted range; fix the clock or widen "
                "--not-before/--not-after")
    if code == cv.OUT_OF_RANGE:
        limit = ctx.options.limits.get(channel or "")
        bounds = f"[{limit.low:g}, {limit.high:g}]" if limit else "its limits"
        return f"value {text} is outside {bounds} set for channel {channel!r}"
    return text


def _source_cell(ctx: ChunkContext, meta: ChunkMeta, i: int, column: str) -> str | None:
    """The cell as written in the file, for a column Arrow already typed (the unquoted fast
    path, where a line splits exactly at the delimiter)."""
    line = meta.raw.text(int(meta.lines[i])) if meta.raw is not None else ""
    fields = line.split(ctx.options.delimiter)
    index = ctx.plan.names.index(column)
    return fields[index] if len(fields) == len(ctx.plan.names) else None


def _value_rejection(ctx: ChunkContext, meta: ChunkMeta, cells: cv.Cells, i: int, code: int, column: str,
                     channel: str) -> Rejection:
    if code == cv.OUT_OF_RANGE:
        return _reject(ctx, meta, i, column, _reason(code, f"{cells.values[i]:g}", ctx, channel), cv.CODES[code])
    text = cells.text(i)
    if code == cv.NOT_FINITE and np.isinf(cells.values[i]):
        written = text if cells.texts is not None else _source_cell(ctx, meta, i, column)
        if written is not None and cv.is_numeral(written):  # overflow, not a written 'inf'
            reason = (f"value {shown(written.strip())} is a number too large for a 64-bit float "
                      "(beyond about 1.8e308); number too large, not stored")
            return _reject(ctx, meta, i, column, reason, "number_too_large")
    return _reject(ctx, meta, i, column, _reason(code, text, ctx, channel), cv.CODES[code])


def _reject(ctx: ChunkContext, meta: ChunkMeta, i: int, column: str | None, reason: str,
            code: str) -> Rejection:
    raw = meta.raw.text(int(meta.lines[i])) if meta.raw is not None else ""
    return Rejection(ctx.source, int(meta.lines[i]), column, reason, raw, code)


@dataclass(frozen=True, slots=True)
class Rows:
    """Row-level results: asset names (K,), per-row asset codes and µs timestamps (R,), the row
    rejections, which rows are usable (R,), and how many usable rows had a naive timestamp."""

    names: tuple[str, ...]
    codes: np.ndarray
    ts_us: np.ndarray
    rejections: list[Rejection]
    ok: np.ndarray
    naive: int


def _row_checks(table: pa.Table, ctx: ChunkContext, meta: ChunkMeta) -> Rows:
    """Check assets and timestamps of every row."""
    plan, n = ctx.plan, table.num_rows
    rejections: list[Rejection] = []
    if plan.fixed_asset is not None:
        names, codes, asset_ok = (plan.fixed_asset,), np.zeros(n, np.int32), np.ones(n, bool)
    else:
        column = plan.column(plan.asset_index)
        cells = cv.assets(table.column(column), ctx.options.asset_template)
        names, codes, asset_ok = cells.names, cells.codes, cells.problem == cv.OK
        if not asset_ok.all():
            texts = cv.combine(table.column(column))
            for i in np.flatnonzero(~asset_ok).tolist():
                reason = cells.detail.get(str(texts[i].as_py() or ""), "asset is empty")
                code = cv.CODES[int(cells.problem[i])]
                rejections.append(_reject(ctx, meta, i, column, reason, code))
    time_name = plan.names[plan.time_index]
    time = cv.timestamps(table.column(time_name), ctx.time, time_name)
    for i in np.flatnonzero(asset_ok & (time.problem != cv.OK)).tolist():
        code = int(time.problem[i])
        rejections.append(_reject(ctx, meta, i, time_name, _reason(code, time.text(i), ctx), cv.CODES[code]))
    row_ok = asset_ok & (time.problem == cv.OK)
    naive = int((row_ok & time.naive).sum()) if time.naive is not None else 0
    return Rows(names, np.where(row_ok, codes, 0).astype(np.int32), time.values, rejections, row_ok, naive)


def _limit_problem(values: np.ndarray, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
    return (values < low) | (values > high)


def build_wide(table: pa.Table, ctx: ChunkContext, meta: ChunkMeta) -> SensorChunk:
    """One chunk of a wide file (one column per channel) in long form."""
    plan = ctx.plan
    checked = _row_checks(table, ctx, meta)
    rejections, row_ok = checked.rejections, checked.ok
    n, c = table.num_rows, len(plan.value_indices)
    values = np.empty((n, c), np.float64)
    valid = np.empty((n, c), bool)
    empty = 0
    for j, index in enumerate(plan.value_indices):
        column, spec, limit = plan.names[index], plan.channels[j], plan.limits[j]
        cells = cv.numbers(table.column(column), ctx.na_values, column)
        problem = cells.problem.copy()
        if limit is not None:
            problem[(problem == cv.OK) & ~cells.missing & _limit_problem(cells.values, limit.low, limit.high)] = cv.OUT_OF_RANGE
        for i in np.flatnonzero(row_ok & (problem != cv.OK)).tolist():
            rejections.append(_value_rejection(ctx, meta, cells, i, int(problem[i]), column, spec.name))
        values[:, j] = cells.values
        valid[:, j] = row_ok & ~cells.missing & (problem == cv.OK)
        empty += int((row_ok & cells.missing).sum())
    rows, cols = np.nonzero(valid)
    return _chunk(ctx, meta, checked, checked.codes[rows], plan.channels, tuple(plan.names[i] for i in plan.value_indices),
                  cols.astype(np.int16), values[rows, cols], np.zeros(len(rows), np.int32), rows, empty)


def _chunk(ctx: ChunkContext, meta: ChunkMeta, checked: Rows, asset: np.ndarray,
           channels: tuple[ChannelSpec, ...], columns: tuple[str, ...], channel: np.ndarray,
           value: np.ndarray, status: np.ndarray, rows: np.ndarray, empty: int) -> SensorChunk:
    every = sorted([*meta.rejections, *checked.rejections], key=lambda r: (r.line or 0, r.column or ""))
    return SensorChunk(
        assets=checked.names, asset=asset.astype(np.int32), channels=channels, columns=columns,
        channel=channel, ts_us=checked.ts_us[rows].astype(np.int64), value=value.astype(np.float64),
        status=status.astype(np.int32), line=meta.lines[rows].astype(np.int64),
        rejections=tuple(every), rows=meta.rows, empty_cells=empty, blank_lines=meta.blank,
        progress=meta.progress, asset_column=ctx.plan.column(ctx.plan.asset_index), raw=meta.raw,
        naive_times=checked.naive,
    )


def _channels(table: pa.Table, ctx: ChunkContext, meta: ChunkMeta, row_ok: np.ndarray,
              rejections: list[Rejection]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Long files: channel names, per-row channel codes, and the rows whose channel is usable."""
    plan = ctx.plan
    column = plan.column(plan.channel_index)
    cells = cv.assets(table.column(column), "{}")  # same checks: empty, too long
    names = [ctx.options.rename.get(name, name) for name in cells.names]
    ok = row_ok & (cells.problem == cv.OK)
    for i in np.flatnonzero(row_ok & (cells.problem != cv.OK)).tolist():
        reason = "channel is empty" if cells.problem[i] == cv.EMPTY_ASSET else f"channel name is longer than {MAX_NAME} characters"
        rejections.append(_reject(ctx, meta, i, column, reason, "bad_channel"))
    return names, cells.codes, ok


def _units(table: pa.Table, ctx: ChunkContext, meta: ChunkMeta, names: list[str], codes: np.ndarray,
           ok: np.ndarray, rejections: list[Rejection]) -> tuple[ChannelSpec, ...]:
    """Unit of every channel (the first one seen in the file wins); rows that disagree are rejected."""
    plan, seen, fixed = ctx.plan, ctx.units_seen, ctx.options.units
    if plan.unit_index is not None and ok.any():
        column = plan.column(plan.unit_index)
        encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(cv.combine(table.column(column)).fill_null("")))
        units = encoded.dictionary.to_pylist()
        pair = codes.astype(np.int64) * len(units) + encoded.indices.to_numpy(zero_copy_only=False)
        present, first = np.unique(pair[ok], return_index=True)
        conflicting = []
        for key in present[np.argsort(first)].tolist():  # in order of first appearance
            name, unit = names[key // len(units)], units[key % len(units)]
            if unit and name not in fixed and (len(unit) > MAX_UNIT or seen.setdefault(name, unit) != unit):
                conflicting.append(key)
        bad = ok & np.isin(pair, conflicting)
        for i in np.flatnonzero(bad).tolist():
            name, unit = names[codes[i]], units[pair[i] % len(units)]
            reason = (f"unit {unit[:40]!r} is longer than {MAX_UNIT} characters" if len(unit) > MAX_UNIT else
                      f"unit {unit!r} differs from {seen[name]!r} used earlier for channel {name!r}")
            rejections.append(_reject(ctx, meta, i, column, reason, "unit_conflict"))
        ok &= ~bad
    return tuple(ChannelSpec(n, fixed.get(n, seen.get(n, ""))) for n in names)


def build_long(table: pa.Table, ctx: ChunkContext, meta: ChunkMeta) -> SensorChunk:
    """One chunk of a long file (asset, time, channel, value[, unit][, status])."""
    plan = ctx.plan
    checked = _row_checks(table, ctx, meta)
    rejections = checked.rejections
    names, codes, ok = _channels(table, ctx, meta, checked.ok, rejections)
    specs = _units(table, ctx, meta, names, codes, ok, rejections)
    status = np.zeros(table.num_rows, np.int32)
    if plan.status_index is not None:
        column = plan.column(plan.status_index)
        status, bad = parse_status(table.column(column))
        for i in np.flatnonzero(ok & bad).tolist():
            text = str(cv.combine(table.column(column))[i].as_py())
            reason = f"status {text!r} is not an OPC-UA status code (a number, or Good/Uncertain/Bad)"
            rejections.append(_reject(ctx, meta, i, column, reason, "bad_status"))
        ok &= ~bad
    value_column = plan.column(plan.value_index)
    cells = cv.numbers(table.column(value_column), ctx.na_values, value_column)
    problem = cells.problem.copy()
    lows = np.array([(ctx.options.limits.get(n).low if n in ctx.options.limits else -np.inf) for n in names] or [0.0])
    highs = np.array([(ctx.options.limits.get(n).high if n in ctx.options.limits else np.inf) for n in names] or [0.0])
    safe = np.where(codes >= 0, codes, 0)
    problem[(problem == cv.OK) & ~cells.missing & _limit_problem(cells.values, lows[safe], highs[safe])] = cv.OUT_OF_RANGE
    for i in np.flatnonzero(ok & (problem != cv.OK)).tolist():
        rejections.append(_value_rejection(ctx, meta, cells, i, int(problem[i]), value_column, names[codes[i]]))
    valid = ok & ~cells.missing & (problem == cv.OK)
    rows = np.flatnonzero(valid)
    return _chunk(ctx, meta, checked, checked.codes[rows], specs, (value_column,) * len(specs),
                  codes[rows].astype(np.int16), cells.values[rows], status[rows], rows,
                  int((ok & cells.missing).sum()))
