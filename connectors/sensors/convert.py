"""Column conversions shared by the CSV and Parquet connectors: numbers, timestamps, asset names.

Each takes an Arrow column, typed (the fast path: Arrow already parsed it) or text (the exact
path: a chunk whose typed parse failed, a quoted CSV, a string column in Parquet), and returns
numpy arrays plus a per-cell problem code, so no Python object is made per row except for cells
that are refused. Text numbers are matched by a strict pattern, then cast by Arrow's own parser,
so a value gives the same float whichever path read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from plantpulse.connectors.sensors.options import EPOCH_UNITS, SensorOptions
from plantpulse.data.core.errors import InputDataError

OK, NOT_NUMERIC, NOT_FINITE, BAD_TIME, LOCAL_TIME, TIME_RANGE, OUT_OF_RANGE = range(7)
EMPTY_ASSET, BAD_ASSET = 7, 8
CODES = {NOT_NUMERIC: "not_numeric", NOT_FINITE: "not_finite", BAD_TIME: "bad_timestamp",
         LOCAL_TIME: "local_time", TIME_RANGE: "time_out_of_range", OUT_OF_RANGE: "out_of_range",
         EMPTY_ASSET: "empty_asset", BAD_ASSET: "bad_asset"}
_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_ZONE = r"[0-9]:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?\s*(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)$"
MAX_ASSET = 128


@dataclass(frozen=True, slots=True)
class Cells:
    """One converted column. values (R,) float64 (numbers) or int64 µs (times); missing (R,)
    bool: no value given; problem (R,) int8: OK or a refusal code; texts: the source text when
    the column was text (for messages), else None."""

    values: np.ndarray
    missing: np.ndarray
    problem: np.ndarray
    texts: pa.Array | None = None
    naive: np.ndarray | None = None  # times only: (R,) bool, written without a zone

    def text(self, i: int) -> str:
        if self.texts is not None:
            value = self.texts[i].as_py()
            return "" if value is None else str(value)
        return repr(float(self.values[i])) if self.values.dtype.kind == "f" else str(self.values[i])


def combine(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_large_string(array.type):
        array = array.cast(pa.string())
    return array


def is_text(array: pa.Array) -> bool:
    return pa.types.is_string(array.type)


def _bool(array: pa.Array) -> np.ndarray:
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def is_numeral(text: str) -> bool:
    """Whether ``text`` is written as a decimal number (so an infinite value means overflow)."""
    return re.match(_NUMBER, text.strip()) is not None


def _cast_each(tokens: list[str]) -> dict[str, float | None]:
    """Arrow's float parse of single tokens; None where it refuses the token."""
    out: dict[str, float | None] = {}
    for token in tokens:
        try:
            out[token] = pc.cast(pa.array([token]), pa.float64())[0].as_py()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out[token] = None
    return out


def _text_numbers(array: pa.Array, na_values: frozenset[str]) -> Cells:
    n = len(array)
    trimmed = pc.utf8_trim_whitespace(array)
    missing = _bool(pc.is_in(array, value_set=pa.array(sorted(na_values | {""}), pa.string())))
    missing |= _bool(pc.equal(trimmed, "")) | _bool(array.is_null())
    good = _bool(pc.match_substring_regex(trimmed, _NUMBER)) & ~missing
    values = np.full(n, np.nan)
    problem = np.zeros(n, np.int8)
    index = np.flatnonzero(good)
    try:
        values[index] = pc.cast(trimmed.take(pa.array(index)), pa.float64()).to_numpy(zero_copy_only=False)
        rest = np.flatnonzero(~good & ~missing)
    except pa.ArrowInvalid:  # the pattern let through something Arrow refuses: judge one by one
        rest = np.flatnonzero(~missing)
    if len(rest):
        tokens = trimmed.take(pa.array(rest)).to_pylist()
        parsed = _cast_each(sorted(set(tokens)))
        for i, token in zip(rest.tolist(), tokens, strict=True):
            value = parsed[token]
            values[i] = np.nan if value is None else value
            problem[i] = NOT_NUMERIC if value is None else OK
    problem[(problem == OK) & ~missing & ~np.isfinite(values)] = NOT_FINITE
    return Cells(values, missing, problem, array)


def numbers(column: pa.ChunkedArray | pa.Array, na_values: frozenset[str], name: str) -> Cells:
    """Float64 values of a column; empty cells are ``missing``; NaN/inf and garbage are problems."""
    array = combine(column)
    if is_text(array):
        return _text_numbers(array, na_values)
    kind = array.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind)
            or pa.types.is_boolean(kind) or pa.types.is_null(kind)):
        msg = f"column {name!r} holds {kind} values, not numbers; leave it out with --ignore-column."
        raise InputDataError(msg)
    values = np.asarray(pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    missing = _bool(array.is_null())
    problem = np.where(~missing & ~np.isfinite(values), NOT_FINITE, OK).astype(np.int8)
    return Cells(values, missing, problem)


@dataclass(frozen=True, slots=True)
class TimeParsing:
    """How to read timestamps: ISO 8601 (default), a strptime ``time_format`` or numbers of
    ``epoch_unit`` since ``epoch_us`` (µs since 1970-01-01Z; 0 for Unix time); ``timezone``
    applies to those without a zone; ``bounds`` is the accepted µs range."""

    timezone: str
    bounds: tuple[int, int]
    time_format: str | None = None
    epoch_unit: str | None = None
    epoch_us: int = 0

    @classmethod
    def of(cls, options: SensorOptions) -> TimeParsing:
        return cls(options.timezone, options.time_bounds_us(), options.time_format, options.epoch_unit,
                   options.epoch_us())

    def epoch_text(self) -> str:
        """The epoch as written in messages."""
        moment = pd.Timestamp(self.epoch_us, unit="us", tz="UTC")
        return moment.isoformat().replace("+00:00", "Z")


def localize(naive_us: np.ndarray, timezone: str) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock µs in ``timezone`` -> (UTC µs, bad) where bad marks DST gaps/overlaps."""
    if timezone == "UTC":
        return naive_us, np.zeros(len(naive_us), bool)
    index = pd.DatetimeIndex(naive_us.astype("datetime64[us]"))
    aware = index.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    bad = np.asarray(aware.isna())
    return np.where(bad, 0, aware.as_unit("us").asi8), bad


def _to_datetime(texts: np.ndarray, utc: bool, time_format: str | None) -> pd.Series:
    series = pd.Series(texts, dtype=object)
    try:
        return pd.to_datetime(series, format=time_format or "ISO8601", utc=utc, errors="coerce")
    except (ValueError, TypeError):  # zone-aware and naive mixed where the pattern saw none
        return pd.to_datetime(series, format=time_format or "ISO8601", utc=True, errors="coerce")


def _pandas_us(texts: np.ndarray, utc: bool, time_format: str | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """(µs, unparsed, was_aware) for strings via pandas; naive results stay wall-clock."""
    parsed = _to_datetime(texts, utc, time_format)
    aware = isinstance(parsed.dtype, pd.DatetimeTZDtype)
    if aware:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = np.asarray(parsed.isna())
    values = parsed.dt.as_unit("us").astype("int64").to_numpy() if len(parsed) else np.empty(0, np.int64)
    return np.where(bad, 0, values), bad, aware


def _text_times(array: pa.Array, how: TimeParsing) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(µs UTC, problem, naive) for text timestamps."""
    n = len(array)
    values, problem, naive = np.zeros(n, np.int64), np.zeros(n, np.int8), np.zeros(n, bool)
    trimmed = pc.utf8_trim_whitespace(array)
    texts = np.asarray(trimmed.to_numpy(zero_copy_only=False), dtype=object)
    if how.time_format is not None:
        zoned = np.full(n, "%z" in how.time_format or "%Z" in how.time_format)
    else:
        zoned = _bool(pc.match_substring_regex(trimmed, _ZONE))
    for mask, utc in ((zoned, True), (~zoned, False)):
        index = np.flatnonzero(mask)
        if not len(index):
            continue
        us, bad, aware = _pandas_us(texts[index], utc=utc, time_format=how.time_format)
        if not aware:
            us, gap = localize(us, how.timezone)
            problem[index[gap & ~bad]] = LOCAL_TIME
            naive[index] = True
        values[index] = us
        problem[index[bad]] = BAD_TIME
    return values, problem, naive


def timestamps(column: pa.ChunkedArray | pa.Array, how: TimeParsing, name: str) -> Cells:
    """UTC µs since the epoch for a time column, with bad/ambiguous/out-of-range cells flagged."""
    array = combine(column)
    kind = array.type
    texts = array if is_text(array) else None
    naive = np.zeros(len(array), bool)
    if how.epoch_unit is not None:
        cells = numbers(array, frozenset(), name)
        scaled = np.round(np.nan_to_num(cells.values) * EPOCH_UNITS[how.epoch_unit]) + how.epoch_us
        problem = np.where((cells.problem != OK) | (np.abs(scaled) > 9e18), BAD_TIME, OK).astype(np.int8)
        values = np.where(problem == OK, scaled, 0).astype(np.int64)
    elif texts is not None:
        values, problem, naive = _text_times(array, how)
    elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        zone = getattr(kind, "tz", None)
        us = pc.cast(array, pa.timestamp("us", tz=zone), safe=False)
        values = np.asarray(pc.cast(us, pa.int64()).fill_null(0).to_numpy(zero_copy_only=False))
        problem = np.zeros(len(array), np.int8)
        if zone is None:
            values, gap = localize(values, how.timezone)
            problem[gap] = LOCAL_TIME
            naive[:] = True
    else:
        msg = (f"time column {name!r} holds {kind} values; pass --epoch s|ms|us if they are Unix "
               "times, or --time-column to pick another column.")
        raise InputDataError(msg)
    missing = _bool(array.is_null()) | (_bool(pc.equal(pc.utf8_trim_whitespace(array), ""))
                                        if texts is not None else False)
    problem[missing] = BAD_TIME
    low, high = how.bounds
    problem[(problem == OK) & ((values < low) | (values > high))] = TIME_RANGE
    return Cells(values, missing, problem, texts, naive)


@dataclass(frozen=True, slots=True)
class AssetCells:
    """names (K,) distinct asset names; codes (R,) int32 index into names (-1: refused);
    problem (R,) int8 and detail (K',) messages keyed by the raw text of refused values."""

    names: tuple[str, ...]
    codes: np.ndarray
    problem: np.ndarray
    detail: dict[str, str]


def asset_name(raw: str, template: str) -> tuple[str | None, int, str]:
    """(name, OK, "") or (None, problem code, reason): ``raw`` trimmed and formatted with
    ``template`` (whole numbers as integers, so ``{:03d}`` works)."""
    text = raw.strip()
    if not text:
        return None, EMPTY_ASSET, "asset is empty"
    try:
        name = template.format(int(text)) if re.fullmatch(r"[+-]?\d+", text) else template.format(text)
    except (ValueError, IndexError, KeyError) as err:
        return None, BAD_ASSET, f"asset {text!r} does not fit --asset-template {template!r} ({err})"
    if len(name) > MAX_ASSET:
        return None, BAD_ASSET, f"asset name {name[:40]!r}... is longer than {MAX_ASSET} characters"
    return name, OK, ""


def assets(column: pa.ChunkedArray | pa.Array, template: str) -> AssetCells:
    """Asset names of a column: distinct values are checked and templated once, rows get codes."""
    array = combine(column)
    if not is_text(array):
        array = pc.cast(array, pa.string())
    encoded = pc.dictionary_encode(array.fill_null(""))
    raw_names = encoded.dictionary.to_pylist()
    indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    position: dict[str, int] = {}  # final name -> code, in order of first appearance
    lookup = np.full(len(raw_names), -1, np.int64)
    kinds = np.zeros(len(raw_names), np.int8)
    detail: dict[str, str] = {}
    for k, raw in enumerate(raw_names):
        name, kinds[k], message = asset_name(raw, template)
        if name is None:
            detail[raw] = message
        else:
            lookup[k] = position.setdefault(name, len(position))
    codes = lookup[indices].astype(np.int32)
    return AssetCells(tuple(position), codes, kinds[indices], detail)
