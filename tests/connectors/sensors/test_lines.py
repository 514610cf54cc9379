"""Cutting files into blocks of whole lines: numbering, CRLF, last line, block boundaries."""

from __future__ import annotations

import io

import pytest

from plantpulse.connectors.sensors import lines as lines_module
from plantpulse.connectors.sensors.lines import check_lines, iter_line_blocks


def _texts(data: bytes, per_block: int) -> list[tuple[int, bytes]]:
    out = []
    for block in iter_line_blocks(io.BytesIO(data), 2, per_block, 0):
        out += [(int(n), block.line_bytes(i)) for i, n in enumerate(block.numbers)]
    return out


@pytest.mark.parametrize("piece", [3, 7, 1 << 23], ids=["tiny", "small", "default"])
@pytest.mark.parametrize("per_block", [1, 2, 5, 100], ids=["1", "2", "5", "100"])
def test_blocks_cover_every_line_once(monkeypatch: pytest.MonkeyPatch, piece: int, per_block: int) -> None:
    monkeypatch.setattr(lines_module, "_PIECE", piece)
    data = b"a,1\r\nbb,2\n\nccc,3\nd,4"
    assert _texts(data, per_block) == [(2, b"a,1"), (3, b"bb,2"), (4, b""), (5, b"ccc,3"), (6, b"d,4")]


def test_end_offsets_reach_the_file_size() -> None:
    data = b"x\n" * 10 + b"last"
    blocks = list(iter_line_blocks(io.BytesIO(data), 1, 4, 0))
    assert [b.end_offset for b in blocks] == [8, 16, 24]
    assert blocks[-1].joined() == b"x\nx\nlast\n"


def test_check_lines_counts_fields_and_keeps_good_lines() -> None:
    [block] = iter_line_blocks(io.BytesIO(b"a,b,c\na,b\n,,\n\na,b,c,d\n"), 2, 100, 0)
    check = check_lines(block, 3, ",", "utf-8", "f.csv")
    assert check.good.numbers.tolist() == [2]
    assert [(r.line, r.code) for r in check.rejections] == [(3, "field_count"), (6, "field_count")]
    assert (check.blank, check.rejected_lines) == (2, 2)
