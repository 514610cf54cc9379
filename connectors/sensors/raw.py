"""Verbatim source text of input lines, kept so that later stages can quarantine whole rows."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from plantpulse.connectors.sensors.lines import LineBlock


def clean_text(text: str) -> str:
    """Text safe to store in any database: NUL bytes shown as \\x00."""
    return text.replace("\x00", "\\x00")


@dataclass(frozen=True, slots=True)
class BlockText:
    """Lines of one block of a text file."""

    block: LineBlock
    encoding: str

    def text(self, line: int) -> str:
        i = int(np.searchsorted(self.block.numbers, line))
        if i >= len(self.block) or self.block.numbers[i] != line:
            return ""
        return clean_text(self.block.line_bytes(i).decode(self.encoding, errors="replace"))


@dataclass(frozen=True, slots=True)
class RecordText:
    """Records of a quoted CSV (a record may span several lines); keyed by first line."""

    numbers: np.ndarray
    texts: tuple[str, ...]

    def text(self, line: int) -> str:
        i = int(np.searchsorted(self.numbers, line))
        if i >= len(self.texts) or self.numbers[i] != line:
            return ""
        return clean_text(self.texts[i])


@dataclass(frozen=True, slots=True)
class TableRowText:
    """Rows of a columnar batch (Parquet), shown as JSON; ``first`` is the number of row 0."""

    table: pa.Table
    first: int

    def text(self, line: int) -> str:
        row = line - self.first
        if not 0 <= row < self.table.num_rows:
            return ""
        values = {name: self.table.column(name)[row].as_py() for name in self.table.column_names}
        return clean_text(json.dumps(values, default=str, ensure_ascii=False))
