"""Lazy sliding windows: (N, T, C) samples that are views into one (L, C) series.

Overlapping windows (stride < length) would multiply memory; a :class:`WindowView` stores the
concatenated, standardised series once plus each window's start offset, and builds windows only
for the rows a batch asks for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np


class WindowView:
    """Array-like (N, length, C): ``view[rows]`` -> float32 array, ``len(view)`` -> N."""

    def __init__(self, series: np.ndarray, starts: np.ndarray, length: int) -> None:
        self.series = series
        self.starts = np.asarray(starts, dtype=np.int64)
        self.length = int(length)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.starts), self.length, self.series.shape[1])

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, rows: np.ndarray) -> np.ndarray | WindowView:
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return self.series[self.starts[rows][:, None] + np.arange(self.length)]

    def take(self, rows: np.ndarray) -> WindowView:
        """A new view over a subset of the windows (no copy of the series)."""
        rows = np.asarray(rows)
        return WindowView(self.series, self.starts[rows], self.length)

    def spans(self) -> np.ndarray:
        """(N, 2) [start, end) sample offsets of each window in the series."""
        return np.stack([self.starts, self.starts + self.length], axis=1)

    def fingerprint_bytes(self) -> bytes:
        digest = hashlib.sha256(np.ascontiguousarray(self.starts).tobytes())
        digest.update(str(self.length).encode())
        digest.update(np.ascontiguousarray(self.series).tobytes())
        return digest.digest()


def window_starts(begin: int, end: int, length: int, stride: int) -> np.ndarray:
    """Starts of windows of ``length`` inside ``[begin, end)``, stepping ``stride``, aligned so
    that the last window ends exactly at ``end`` (the newest data is always used)."""
    if end - begin < length:
        return np.empty(0, dtype=np.int64)
    last = end - length
    return np.arange(last, begin - 1, -stride, dtype=np.int64)[::-1]


def chunked(view: np.ndarray | WindowView, fn: Callable[[np.ndarray], np.ndarray], rows: np.ndarray | None = None,
            chunk: int = 2048) -> np.ndarray:
    """``fn`` applied to (a subset of) a lazy window view, chunk by chunk, so overlapping
    windows are never all materialised at once; results are concatenated along rows."""
    index = np.arange(len(view)) if rows is None else np.asarray(rows)
    parts = [fn(np.asarray(view[index[i:i + chunk]], dtype=np.float32)) for i in range(0, len(index), chunk)]
    return np.concatenate(parts)
