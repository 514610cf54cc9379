"""OPC-UA status codes in long sensor files: numbers (decimal or 0x hex) or Good/Uncertain/Bad."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from plantpulse.connectors.sensors.convert import combine

NAMED = {"good": 0, "uncertain": 0x40000000, "bad": 0x80000000}


def _code(token: str) -> int | None:
    text = token.strip().lower()
    if not text:
        return 0
    if text in NAMED:
        return NAMED[text]
    try:
        value = int(text, 16) if text.startswith("0x") else int(float(text)) if "." in text else int(text)
    except ValueError:
        return None
    return value if 0 <= value <= 0xFFFFFFFF else None


def parse_status(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(status (R,) int32 holding the 32-bit code, bad (R,) bool) for a status column."""
    array = combine(column)
    if not pa.types.is_string(array.type):
        array = pc.cast(array, pa.string())
    encoded = pc.dictionary_encode(array.fill_null(""))
    tokens = encoded.dictionary.to_pylist()
    parsed = [_code(t) for t in tokens]
    lookup = np.array([0 if p is None else p for p in parsed] or [0], dtype=np.int64)
    invalid = np.array([p is None for p in parsed] or [False], dtype=bool)
    index = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    codes = lookup[index].astype(np.uint32).view(np.int32)  # stored as int32 bit pattern
    return codes, invalid[index]
