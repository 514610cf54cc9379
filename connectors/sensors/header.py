"""Reading a sensor file's header: which column is time, asset, channel, value; units; layout.

Problems found here concern the whole file (a missing time column, a duplicated column name), so
they raise :class:`InputDataError` with a message that says how to fix the file or the options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from plantpulse.connectors.headerless import headerless_message, looks_like_data
from plantpulse.connectors.sensors.convert import asset_name
from plantpulse.connectors.sensors.options import (
    ASSET_NAMES,
    CHANNEL_NAMES,
    STATUS_NAMES,
    TIME_NAMES,
    UNIT_NAMES,
    VALUE_NAMES,
    ChannelLimit,
    SensorOptions,
    normalize_name,
)
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import ChannelSpec

_UNIT_SUFFIX = re.compile(r"^(?P<name>.*?\S)\s*(?:\[(?P<a>[^\[\]]*)\]|\((?P<b>[^()]*)\))\s*$")
MAX_NAME = 128
MAX_UNIT = 32


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """What each column of a sensor file means.

    Wide: ``value_indices`` (C,) are channel columns with ``channels`` (C,) and ``limits`` (C,).
    Long: ``channel_index``/``value_index`` (and optional unit/status) name those columns.
    ``fixed_asset`` is set when every row belongs to one asset (``--asset`` or the file name).
    """

    names: tuple[str, ...]
    layout: str
    time_index: int
    asset_index: int | None
    fixed_asset: str | None
    value_indices: tuple[int, ...] = ()
    channels: tuple[ChannelSpec, ...] = ()
    limits: tuple[ChannelLimit | None, ...] = ()
    channel_index: int | None = None
    value_index: int | None = None
    unit_index: int | None = None
    status_index: int | None = None

    @property
    def used(self) -> tuple[int, ...]:
        """Indices of the columns the connector parses, in file order."""
        extra = (self.asset_index, self.channel_index, self.value_index, self.unit_index,
                 self.status_index)
        wanted = {self.time_index, *self.value_indices, *(i for i in extra if i is not None)}
        return tuple(sorted(wanted))

    def column(self, index: int | None) -> str | None:
        return None if index is None else self.names[index]


def split_unit(header: str) -> tuple[str, str]:
    """``"temp [degC]"`` or ``"temp (degC)"`` -> ``("temp", "degC")``; else ``(header, "")``."""
    match = _UNIT_SUFFIX.match(header)
    if match is None:
        return header.strip(), ""
    return match["name"].strip(), (match["a"] if match["a"] is not None else match["b"]).strip()


def _find(names: tuple[str, ...], wanted: str | None, candidates: tuple[str, ...], role: str,
          source: str) -> int | None:
    """Index of the column named ``wanted`` (or the first recognised candidate), else None."""
    if wanted is not None:
        for i, name in enumerate(names):
            if name == wanted or split_unit(name)[0] == wanted:
                return i
        msg = f"{source}: no column {wanted!r} for the {role}. Columns are: {', '.join(names)}."
        raise InputDataError(msg)
    normalized = [normalize_name(split_unit(n)[0]) for n in names]
    for candidate in candidates:
        if candidate in normalized:
            return normalized.index(candidate)
    return None


def _headerless(source: str, names: tuple[str, ...]) -> str:
    example = ["timestamp", "asset", *(f"channel{i}" for i in range(1, len(names) - 1))]
    return headerless_message(source, names, example)


def _check_names(names: tuple[str, ...], source: str) -> None:
    for i, name in enumerate(names):
        if not name:
            msg = f"{source}:1: header column {i + 1} has no name; name every column."
            raise InputDataError(msg)
        if len(name) > MAX_NAME:
            msg = f"{source}:1: header column {i + 1} is longer than {MAX_NAME} characters."
            raise InputDataError(msg)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            msg = f"{source}:1: column {name!r} appears twice in the header; rename one of them."
            raise InputDataError(msg)
        seen.add(name)


def file_asset(options: SensorOptions, source: str) -> str | None:
    """The one asset of a whole file: ``--asset``, or ``--asset-pattern`` on the file name
    formatted with ``--asset-template`` (as a column's values are); None when neither is given."""
    if options.asset:
        return options.asset
    if not options.asset_pattern:
        return None
    match = re.search(options.asset_pattern, Path(source).name)
    if match is None:
        msg = f"{source}: the file name does not match asset_pattern {options.asset_pattern!r}."
        raise InputDataError(msg)
    groups = match.groupdict()
    found = groups.get("asset") or (match.group(1) if match.re.groups else match.group(0))
    name, problem, reason = asset_name(found or "", options.asset_template)
    if name is None:
        msg = (f"{source}: the file name gives the asset {found!r} (asset_pattern "
               f"{options.asset_pattern!r}), which cannot be used: {reason}.")
        raise InputDataError(msg)
    return name


def _asset_source(names: tuple[str, ...], options: SensorOptions, source: str
                  ) -> tuple[int | None, str | None]:
    fixed = file_asset(options, source)
    if fixed is not None:
        return None, fixed
    index = _find(names, options.asset_column, ASSET_NAMES, "asset", source)
    if index is None:
        msg = (f"{source}: no asset column found (looked for {', '.join(ASSET_NAMES[:4])}, ...). "
               "Name it 'asset', or pass --asset-column, --asset NAME or --asset-pattern REGEX.")
        raise InputDataError(msg)
    return index, None


def _layout(names: tuple[str, ...], options: SensorOptions) -> str:
    if options.layout != "auto":
        return options.layout
    normalized = {normalize_name(n) for n in names}
    has_channel = options.channel_column in names or bool(normalized & set(CHANNEL_NAMES))
    has_value = options.value_column in names or bool(normalized & set(VALUE_NAMES))
    return "long" if has_channel and has_value else "wide"


def _channel_name(header: str, options: SensorOptions) -> tuple[str, str]:
    name, unit = split_unit(header)
    name = options.rename.get(header, options.rename.get(name, name))
    return name, options.units.get(name, unit)


def _wide_channels(names: tuple[str, ...], taken: set[int], options: SensorOptions, source: str
                   ) -> tuple[tuple[int, ...], tuple[ChannelSpec, ...], tuple[ChannelLimit | None, ...]]:
    indices, specs = [], []
    ignored = set(options.ignore_columns)
    for i, header in enumerate(names):
        name, unit = _channel_name(header, options)
        if i in taken or header in ignored or name in ignored:
            continue
        if options.channels is not None and name not in options.channels and header not in options.channels:
            continue
        if len(unit) > MAX_UNIT:
            msg = f"{source}:1: the unit of column {header!r} is longer than {MAX_UNIT} characters; shorten it with --unit."
            raise InputDataError(msg)
        indices.append(i)
        specs.append(ChannelSpec(name, unit))
    if not indices:
        msg = f"{source}: no channel columns left to read; check --channels and --ignore-column."
        raise InputDataError(msg)
    duplicated = {s.name for s in specs if sum(t.name == s.name for t in specs) > 1}
    if duplicated:
        msg = f"{source}: several columns map to channel(s) {', '.join(sorted(duplicated))}; rename them."
        raise InputDataError(msg)
    return tuple(indices), tuple(specs), tuple(options.limits.get(s.name) for s in specs)


def plan_columns(header: list[str], options: SensorOptions, source: str) -> ColumnPlan:
    """Decide what every column means, or say clearly why the file cannot be read."""
    names = tuple(h.strip() for h in header)
    try:
        _check_names(names, source)
    except InputDataError as err:
        if looks_like_data(names) and options.columns is None:
            raise InputDataError(_headerless(source, names)) from err
        raise
    time_index = _find(names, options.time_column, TIME_NAMES, "timestamp", source)
    if time_index is None:
        if looks_like_data(names) and options.columns is None:
            raise InputDataError(_headerless(source, names))
        msg = (f"{source}: no timestamp column found (looked for {', '.join(TIME_NAMES[:4])}, ...). "
               "Name it 'timestamp' or pass --time-column.")
        raise InputDataError(msg)
    asset_index, fixed = _asset_source(names, options, source)
    layout = _layout(names, options)
    taken = {time_index} | ({asset_index} if asset_index is not None else set())
    if layout == "wide":
        indices, specs, limits = _wide_channels(names, taken, options, source)
        return ColumnPlan(names, layout, time_index, asset_index, fixed, indices, specs, limits)
    channel = _find(names, options.channel_column, CHANNEL_NAMES, "channel", source)
    value = _find(names, options.value_column, VALUE_NAMES, "value", source)
    if channel is None or value is None:
        msg = (f"{source}: a long file needs a channel and a value column "
               "(e.g. asset,timestamp,channel,value); pass --channel-column/--value-column.")
        raise InputDataError(msg)
    unit = _find(names, options.unit_column, UNIT_NAMES, "unit", source)
    status = _find(names, options.status_column, STATUS_NAMES, "status", source)
    unit = None if unit in taken | {channel, value} else unit
    return ColumnPlan(names, layout, time_index, asset_index, fixed, channel_index=channel,
                      value_index=value, unit_index=unit, status_index=status)
