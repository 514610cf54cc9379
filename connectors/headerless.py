"""Telling a header line from a data row, so a file without a header gets the right advice.

A CSV whose first line is data ("2024-05-01T12:00:00Z,press-07,61.5") has no column names; the
readers would otherwise say "no timestamp column", which sends the user looking for the wrong
fix. Both the sensor and the log reader ask :func:`looks_like_data` before they complain about
missing columns, and then suggest ``--columns``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}[./]\d{1,2}[./]\d{2,4}\b")


def looks_like_data(names: Sequence[str]) -> bool:
    """Whether a "header" is really a data row: it holds a date, or numbers in half its fields."""
    cells = [n.strip() for n in names]
    if not cells:
        return False
    numbers = sum(bool(_NUMBER.match(c)) for c in cells)
    return any(_DATE.match(c) for c in cells) or 2 * numbers >= len(cells)


def headerless_message(source: str, names: Sequence[str], example: Sequence[str]) -> str:
    """What to say when a file's first line is data: name its fields with --columns."""
    first = ",".join(n.strip() for n in names)
    shown = first if len(first) <= 80 else first[:77] + "..."
    fill = [*example, *(f"field{i}" for i in range(len(example) + 1, len(names) + 1))][: max(1, len(names))]
    return (f"{source}: the first line ({shown!r}) is data, not a header: the file has no header "
            f"line. Name its {len(names)} fields with --columns, e.g. --columns {','.join(fill)}.")
