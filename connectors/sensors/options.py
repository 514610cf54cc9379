"""Options of the sensor-file connectors (CSV and Parquet), validated once on construction."""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plantpulse.connectors.csv_records import DEFAULT_MAX_FIELD_CHARS
from plantpulse.data.core.errors import ConfigError

LAYOUTS = ("auto", "wide", "long")
EPOCH_UNITS = {"s": 1_000_000, "ms": 1_000, "us": 1}
EPOCH_START = datetime(1970, 1, 1, tzinfo=UTC)
MAX_RATE_HZ = 1_000_000.0

# Column names recognised without being told (compared case-insensitively, spaces/dashes as _).
TIME_NAMES = ("timestamp", "time", "datetime", "date_time", "ts", "time_utc", "timestamp_utc", "date")
ASSET_NAMES = ("asset", "asset_name", "asset_id", "machine", "machineid", "machine_id",
               "equipment", "equipment_id", "device", "device_id", "unit", "unit_id", "engine")
CHANNEL_NAMES = ("channel", "tag", "sensor", "signal", "variable", "metric", "channel_name")
VALUE_NAMES = ("value", "reading", "val", "measurement")
UNIT_NAMES = ("unit", "units", "uom", "engineering_unit")
STATUS_NAMES = ("status", "quality", "status_code")


@dataclass(frozen=True, slots=True)
class ChannelLimit:
    """Plausible range of a channel; values outside it are quarantined, not stored."""

    low: float = -math.inf
    high: float = math.inf

    def __post_init__(self) -> None:
        if math.isnan(self.low) or math.isnan(self.high) or self.low > self.high:
            msg = f"A channel limit needs low <= high. Got low={self.low}, high={self.high}."
            raise ConfigError(msg)

    @classmethod
    def parse(cls, text: str) -> ChannelLimit:
        """``"-40:150"``, ``":150"`` or ``"-40:"`` -> a limit (empty side = unbounded)."""
        low, sep, high = text.partition(":")
        try:
            if not sep:
                raise ValueError(text)
            return cls(float(low) if low.strip() else -math.inf, float(high) if high.strip() else math.inf)
        except ValueError as err:
            msg = f"Channel limit {text!r} must look like 'LOW:HIGH', e.g. '-40:150' or ':150'."
            raise ConfigError(msg) from err


def _check_encoding(name: str) -> str:
    try:
        codec = codecs.lookup(name)
    except LookupError as err:
        raise ConfigError(f"Unknown text encoding {name!r}; use e.g. utf-8, latin-1 or cp1252.") from err
    probe = "asset,ts;|\t1.5\n"
    try:
        ascii_compatible = probe.encode(codec.name) == probe.encode("ascii")
    except UnicodeError:
        ascii_compatible = False
    if not ascii_compatible:
        msg = (f"Encoding {name!r} is not ASCII-compatible (e.g. UTF-16); convert the file to "
               "UTF-8 first (iconv -f UTF-16 -t UTF-8).")
        raise ConfigError(msg)
    return codec.name


@dataclass(frozen=True, slots=True)
class SensorOptions:
    """How to read a sensor file. Every field has a default that fits a plain wide CSV.

    Assets come from one of: ``asset`` (fixed name), ``asset_column``, ``asset_pattern`` (regex on
    the file name; group ``asset`` or group 1), else an auto-detected column such as ``asset``.
    ``asset_template`` formats each value (of a column or of the file-name pattern), e.g.
    ``"azure-machine-{:03d}"`` turns ``7`` into ``azure-machine-007``. Timestamps are ISO 8601
    unless ``time_format`` (strptime) or ``epoch_unit`` says otherwise: numbers of s/ms/us since
    ``epoch`` (default 1970-01-01Z, i.e. Unix time; giving ``epoch`` alone means seconds); those
    without a zone are read in ``timezone``. ``columns`` names the fields of a file without a
    header line (every line is then data). A MATLAB file's vectors (``mat_vars``: variable ->
    channel, default every numeric vector) are sampled at ``rate_hz`` from ``epoch``. Compressed
    input (gzip, a one-file zip) may unpack to at most ``max_unpacked_mb``. ``units`` and ``limits`` are keyed by channel name. ``max_field_chars`` bounds
    one field of a quoted file (setting ``ingest.max_field_chars``); a longer one costs its record.
    """

    layout: str = "auto"
    asset: str | None = None
    asset_column: str | None = None
    asset_pattern: str | None = None
    asset_template: str = "{}"
    time_column: str | None = None
    time_format: str | None = None
    epoch_unit: str | None = None
    epoch: datetime | None = None
    timezone: str = "UTC"
    not_before: datetime = EPOCH_START
    not_after: datetime | None = None
    max_future: timedelta = timedelta(days=1)
    units: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, ChannelLimit] = field(default_factory=dict)
    channels: tuple[str, ...] | None = None
    ignore_columns: tuple[str, ...] = ()
    rename: Mapping[str, str] = field(default_factory=dict)
    na_values: tuple[str, ...] = ()
    delimiter: str = ","
    encoding: str = "utf-8"
    chunk_rows: int = 250_000
    max_chunk_cells: int = 4_000_000
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS
    channel_column: str | None = None
    value_column: str | None = None
    unit_column: str | None = None
    status_column: str | None = None
    columns: tuple[str, ...] | None = None
    mat_vars: Mapping[str, str] = field(default_factory=dict)
    rate_hz: float | None = None
    max_unpacked_mb: float = 512.0

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ConfigError(f"layout must be one of {', '.join(LAYOUTS)}. Got {self.layout!r}.")
        sources = [n for n in ("asset", "asset_column", "asset_pattern") if getattr(self, n)]
        if len(sources) > 1:
            msg = f"Give only one of asset, asset_column, asset_pattern. Got {', '.join(sources)}."
            raise ConfigError(msg)
        if self.asset_pattern is not None:
            try:
                re.compile(self.asset_pattern)
            except re.error as err:
                raise ConfigError(f"asset_pattern {self.asset_pattern!r} is not a regex: {err}.") from err
        if "{" not in self.asset_template:
            msg = f"asset_template must contain '{{}}' where the value goes. Got {self.asset_template!r}."
            raise ConfigError(msg)
        self._check_time()
        if len(self.delimiter) != 1 or self.delimiter in "\"\r\n" or ord(self.delimiter) > 127:
            msg = f"delimiter must be one ASCII character other than a quote or newline. Got {self.delimiter!r}."
            raise ConfigError(msg)
        object.__setattr__(self, "encoding", _check_encoding(self.encoding))
        if self.chunk_rows < 1 or self.max_chunk_cells < 1:
            raise ConfigError(f"chunk_rows must be >= 1. Got {self.chunk_rows}.")
        if self.max_field_chars < 1:
            raise ConfigError(f"max_field_chars must be >= 1. Got {self.max_field_chars}.")
        self._check_columns()
        if self.rate_hz is not None and not (math.isfinite(self.rate_hz) and 0 < self.rate_hz <= MAX_RATE_HZ):
            msg = (f"rate_hz must be a sampling rate above 0 and at most {MAX_RATE_HZ:,.0f} Hz "
                   f"(timestamps are stored in microseconds). Got {self.rate_hz}.")
            raise ConfigError(msg)

    def _check_columns(self) -> None:
        if self.columns is None:
            return
        names = [c.strip() for c in self.columns]
        if not names or any(not n for n in names):
            raise ConfigError(f"columns must name every field, e.g. timestamp,asset,temp. Got {','.join(self.columns)!r}.")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"columns names {', '.join(twice)} more than once; every field needs its own name.")
        object.__setattr__(self, "columns", tuple(names))

    def _check_time(self) -> None:
        if self.time_format and (self.epoch_unit or self.epoch):
            raise ConfigError("Give time_format or epoch/epoch_unit, not both: numbers since an epoch "
                              "need no format.")
        if self.epoch is not None:
            if self.epoch.tzinfo is None:
                raise ConfigError(f"epoch must carry a time zone, e.g. {self.epoch.isoformat()}Z.")
            if self.epoch_unit is None:
                object.__setattr__(self, "epoch_unit", "s")
        if self.epoch_unit is not None and self.epoch_unit not in EPOCH_UNITS:
            msg = f"epoch_unit must be one of {', '.join(EPOCH_UNITS)}. Got {self.epoch_unit!r}."
            raise ConfigError(msg)
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            msg = f"timezone must be an IANA zone name such as 'Europe/Berlin'. Got {self.timezone!r}."
            raise ConfigError(msg) from err
        for name in ("not_before", "not_after"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ConfigError(f"{name} must carry a time zone. Got {value.isoformat()}.")

    def epoch_us(self) -> int:
        """The time numeric timestamps count from, in µs since 1970-01-01Z."""
        return _micros(self.epoch) if self.epoch is not None else 0

    def time_bounds_us(self, now: datetime | None = None) -> tuple[int, int]:
        """Accepted timestamp range in µs since the epoch (inclusive)."""
        latest = self.not_after or (now or datetime.now(UTC)) + self.max_future
        return _micros(self.not_before), _micros(latest)

    def rows_per_chunk(self, n_channels: int) -> int:
        """Rows per chunk, fewer for very wide files so a chunk stays within ``max_chunk_cells``."""
        return max(1, min(self.chunk_rows, self.max_chunk_cells // max(1, n_channels)))


def _micros(value: datetime) -> int:
    delta = value.astimezone(UTC) - EPOCH_START
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def normalize_name(name: str) -> str:
    """Column name as compared with the recognised names: lower case, spaces/dashes -> '_'."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())
