"""The ``mat`` connector: MATLAB ``.mat`` files whose variables are sampled vectors.

Test rigs and data loggers often save one vector per sensor (the CWRU bearing files hold
``X097_DE_time``, ``X097_FE_time`` and a scalar ``X097RPM``). A vector holds no time, so the
file is read with a sampling rate (``rate_hz``) and the time of the first sample (``epoch``):
sample ``i`` is at ``epoch + i / rate_hz`` (rounded to the microsecond). ``mat_vars`` maps
variables to channels (``X097_DE_time=drive_end_accel``; the variable may be a glob such as
``*_DE_time`` so one mapping fits a folder of files); without it every numeric vector becomes a
channel of its own name. The asset is ``--asset`` or ``--asset-pattern`` on the file name.

Files are read with :func:`scipy.io.loadmat` (MATLAB v4 to v7; no code in the file is ever run)
after :func:`~plantpulse.connectors.unpack.unpack`, so ``.mat.gz`` works too. A value that is
not finite or outside its ``--limit`` is quarantined with its sample number as the line.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plantpulse.connectors.base import SensorStream
from plantpulse.connectors.sensors.header import file_asset
from plantpulse.connectors.sensors.options import SensorOptions
from plantpulse.connectors.unpack import PlainFile, unpack
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import ChannelSpec, Rejection, SensorChunk, SensorSourceInfo

_NUMERIC = ("double", "single", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
            "uint64", "logical")


@dataclass(frozen=True, slots=True)
class VectorText:
    """Quarantined samples shown as ``NAME[i] = value`` (``i`` counted from 1, as the line)."""

    variable: str
    values: np.ndarray
    first: int

    def text(self, line: int) -> str:
        i = line - self.first
        return f"{self.variable}[{line}] = {float(self.values[i])!r}" if 0 <= i < len(self.values) else ""


def _listing(path: Path, label: str) -> list[tuple[str, tuple[int, ...], str]]:
    import scipy.io

    try:
        return [(name, tuple(shape), kind) for name, shape, kind in scipy.io.whosmat(str(path))]
    except NotImplementedError as err:  # v7.3 files are HDF5
        msg = (f"{label}: a MATLAB v7.3 (HDF5) file, which this reader does not open; save it "
               "with save(FILE, '-v7') or export the vectors as CSV.")
        raise InputDataError(msg) from err
    except Exception as err:  # scipy raises many types for damaged files; all mean "not readable"
        msg = f"{label}: not a readable MATLAB .mat file ({type(err).__name__}: {err})."
        raise InputDataError(msg) from err


def _is_vector(shape: tuple[int, ...], kind: str) -> bool:
    return kind in _NUMERIC and len(shape) >= 1 and int(np.prod(shape)) == max(shape) > 1


def _describe(found: list[tuple[str, tuple[int, ...], str]]) -> str:
    return ", ".join(f"{n} ({'x'.join(map(str, s))} {k})" for n, s, k in found) or "none"


def choose_variables(found: list[tuple[str, tuple[int, ...], str]], mapping: dict[str, str], label: str
                     ) -> dict[str, str]:
    """Variable -> channel: the mapping (names or globs, each matching one vector), or every vector."""
    vectors = [n for n, shape, kind in found if _is_vector(shape, kind)]
    if not mapping:
        if not vectors:
            msg = f"{label}: no numeric vector in the file to read as a channel. Variables: {_describe(found)}."
            raise InputDataError(msg)
        return {n: n for n in vectors}
    chosen: dict[str, str] = {}
    for pattern, channel in mapping.items():
        hits = [n for n, _, _ in found if fnmatch.fnmatchcase(n, pattern)]
        if len(hits) != 1:
            why = "matches no variable" if not hits else f"matches {len(hits)} variables ({', '.join(hits)})"
            msg = (f"{label}: --mat-var {pattern}={channel} {why}; name one variable. "
                   f"Variables: {_describe(found)}.")
            raise InputDataError(msg)
        if hits[0] not in vectors:
            shape = next((s, k) for n, s, k in found if n == hits[0])
            msg = (f"{label}: variable {hits[0]} is {'x'.join(map(str, shape[0]))} {shape[1]}, not a numeric "
                   "vector of samples; map a vector variable.")
            raise InputDataError(msg)
        chosen[hits[0]] = channel
    return chosen


class MatConnector:
    """Reads sampled vectors from MATLAB files; construct with :class:`SensorOptions` (with
    ``rate_hz`` and ``epoch``), then :meth:`open` a file."""

    name = "mat"

    def __init__(self, options: SensorOptions | None = None) -> None:
        self.options = options or SensorOptions()

    def open(self, path: str | Path, source: str | None = None) -> SensorStream:
        path = Path(path)
        source = source or path.name
        if not path.is_file():
            raise InputDataError(f"{source}: no such file ({path}).")
        plain = unpack(path, source, self.options.max_unpacked_mb, text=False)
        try:
            found = _listing(plain.path, source)
            chosen = choose_variables(found, dict(self.options.mat_vars), source)
            asset = self._asset(source)
            self._check_time(source)
        except BaseException:
            plain.close()
            raise
        specs = tuple(ChannelSpec(self._channel(c), self.options.units.get(self._channel(c), ""))
                      for c in chosen.values())
        twice = sorted({s.name for s in specs if sum(t.name == s.name for t in specs) > 1})
        if twice:
            plain.close()
            raise InputDataError(f"{source}: several variables map to channel(s) {', '.join(twice)}; "
                                 "give each variable its own channel with --mat-var NAME=CHANNEL.")
        total = sum(int(np.prod(s)) for n, s, _ in found if n in chosen)
        info = SensorSourceInfo(source=source, layout="wide", columns=tuple(chosen), time_column=None,
                                asset_column=None, channels=specs, timezone="UTC", progress_total=total,
                                progress_unit="values", notes=plain.note() + (self._note(),))
        return SensorStream(info, self._chunks(plain, chosen, specs, asset, source))

    def _channel(self, name: str) -> str:
        return self.options.rename.get(name, name)

    def _note(self) -> str:
        return f"samples at {self.options.rate_hz:g} Hz from {self.options.epoch.isoformat()}"

    def _asset(self, source: str) -> str:
        asset = file_asset(self.options, source)
        if asset is None:
            msg = (f"{source}: a .mat file names no asset; pass --asset NAME, or --asset-pattern REGEX "
                   "on the file name (e.g. --asset-pattern '_(\\d+)\\.mat' --asset-template 'rig-{}').")
            raise InputDataError(msg)
        return asset

    def _check_time(self, source: str) -> None:
        missing = [flag for flag, value in (("--rate-hz (samples per second)", self.options.rate_hz),
                                            ("--epoch TIME (the time of the first sample)", self.options.epoch))
                   if value is None]
        if missing:
            msg = f"{source}: a .mat file holds samples without times; pass {' and '.join(missing)}."
            raise InputDataError(msg)

    def _load(self, path: Path, variable: str, source: str) -> np.ndarray:
        import scipy.io

        try:
            data = scipy.io.loadmat(str(path), variable_names=[variable])[variable]
        except Exception as err:  # damaged data surfaces only when the variable is read
            msg = f"{source}: variable {variable} cannot be read ({type(err).__name__}: {err})."
            raise InputDataError(msg) from err
        return np.asarray(data, dtype=np.float64).ravel()

    def _chunks(self, plain: PlainFile, chosen: dict[str, str], specs: tuple[ChannelSpec, ...],
                asset: str, source: str) -> Iterator[SensorChunk]:
        try:
            done = 0
            for j, variable in enumerate(chosen):
                values = self._load(plain.path, variable, source)
                step = self.options.rows_per_chunk(1)
                for start in range(0, len(values), step):
                    part = values[start : start + step]
                    done += len(part)
                    yield self._chunk(part, start, variable, specs[j], asset, source, done)
        finally:
            plain.close()

    def _chunk(self, values: np.ndarray, start: int, variable: str, spec: ChannelSpec, asset: str,
               source: str, done: int) -> SensorChunk:
        options = self.options
        index = np.arange(start, start + len(values), dtype=np.int64)
        ts = options.epoch_us() + np.round(index * (1e6 / float(options.rate_hz or 1))).astype(np.int64)
        low, high = options.time_bounds_us()
        limit = options.limits.get(spec.name)
        finite = np.isfinite(values)
        in_range = finite if limit is None else finite & (values >= limit.low) & (values <= limit.high)
        in_time = (ts >= low) & (ts <= high)
        keep = in_range & in_time
        raw = VectorText(variable, values, start + 1)
        rejections = []
        for i in np.flatnonzero(~keep).tolist():
            if not in_time[i]:
                reason, code = ("the sample's time is outside the accepted range; check --epoch or widen "
                                "--not-before/--not-after"), "time_out_of_range"
            elif not finite[i]:
                reason, code = f"value {float(values[i])!r} is not a finite number; NaN and infinity are not stored", "not_finite"
            else:
                reason = f"value {values[i]:g} is outside [{limit.low:g}, {limit.high:g}] set for channel {spec.name!r}"
                code = "out_of_range"
            line = int(index[i]) + 1
            rejections.append(Rejection(source, line, variable, reason, raw.text(line), code))
        n = int(keep.sum())
        return SensorChunk(assets=(asset,), asset=np.zeros(n, np.int32), channels=(spec,), columns=(variable,),
                           channel=np.zeros(n, np.int16), ts_us=ts[keep], value=values[keep],
                           status=np.zeros(n, np.int32), line=index[keep] + 1, rejections=tuple(rejections),
                           rows=len(values), progress=done, raw=raw)
