"""Sensor CSVs built to break the reader: CR-only line breaks, unclosed quotes, huge cells and
numbers too large for a float. Each valid row must still come out; only the broken record is
rejected, with its line."""

from __future__ import annotations

import pytest

from plantpulse.connectors.sensors.csv_connector import CsvConnector
from plantpulse.data.core.errors import InputDataError

HEADER = "asset,timestamp,temp\n"


def _stamp(i: int) -> str:
    return f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z"


def _rows(first: int, last: int, quoted: bool = False) -> str:
    asset = '"m-{:03d}"' if quoted else "m-{:03d}"
    return "".join(f"{asset.format(i)},{_stamp(i)},{i}.5\n" for i in range(first, last))


@pytest.mark.parametrize("quoted", [True, False], ids=["quoted", "unquoted"])
def test_cr_only_line_breaks_are_read_as_lines(write_csv, read_csv, quoted: bool) -> None:
    first = '"m-001"' if quoted else "m-001"
    path = write_csv(f"asset,timestamp,temp\r{first},2024-01-01T00:00:00Z,1.5\rm-002,2024-01-01T00:00:00Z,2.5\r")
    result = read_csv(path)
    assert result.values == {(2, "temp"): 1.5, (3, "temp"): 2.5}
    assert not result.rejections


def test_mixed_line_breaks_are_rejected_not_lost(write_csv, read_csv) -> None:
    path = write_csv(HEADER + "m-001,2024-01-01T00:00:00Z,1.5\rm-002,2024-01-01T00:00:00Z,2.5\nm-003,2024-01-01T00:00:01Z,3.5\n")
    result = read_csv(path)
    assert result.values == {(3, "temp"): 3.5} and result.codes == {2: "stray_cr"}


def test_an_unclosed_quote_costs_only_its_own_record(write_csv, read_csv) -> None:
    broken = f'"m-001,{_stamp(1)},1.5\n'
    path = write_csv(HEADER + broken + _rows(2, 37) + _rows(37, 40, quoted=True))
    result = read_csv(path, chunk_rows=7)
    assert result.values == {(i + 1, "temp"): i + 0.5 for i in range(2, 40)}
    assert result.codes == {2: "unclosed_quote"}
    [rejection] = result.rejections
    assert "line 2" in rejection.reason and "line 3 reads as a row of its own" in rejection.reason
    assert rejection.raw == broken.rstrip("\n")


def test_an_unclosed_quote_on_the_last_line_is_rejected(write_csv, read_csv) -> None:
    path = write_csv(HEADER + _rows(1, 4, quoted=True) + f'm-009,"{_stamp(9)},9.5\n')
    result = read_csv(path)
    assert result.values == {(i + 1, "temp"): i + 0.5 for i in range(1, 4)}
    assert result.codes == {5: "unclosed_quote"} and "end of the file" in result.rejections[0].reason


def test_a_quoted_field_may_still_span_lines(write_csv, read_csv) -> None:
    path = write_csv('asset,timestamp,note,temp\nm-001,2024-01-01T00:00:00Z,"first line\nsecond, line",1.5\n'
                     "m-002,2024-01-01T00:00:01Z,x,2.5\n")
    result = read_csv(path, ignore_columns=("note",))
    assert result.values == {(2, "temp"): 1.5, (4, "temp"): 2.5} and not result.rejections


def test_a_huge_quoted_cell_is_kept_up_to_the_field_limit(write_csv, read_csv) -> None:
    note = "x" * 300_000  # more than the csv module's default limit of 131,072
    path = write_csv(f'asset,timestamp,note,temp\n"m-001",{_stamp(0)},"{note}",1.5\n"m-002",{_stamp(1)},"{note}y",2.5\n'
                     f"m-003,{_stamp(2)},z,3.5\n")
    assert read_csv(path, ignore_columns=("note",)).values == {(2, "temp"): 1.5, (3, "temp"): 2.5, (4, "temp"): 3.5}
    bounded = read_csv(path, ignore_columns=("note",), max_field_chars=300_000)
    assert bounded.values == {(2, "temp"): 1.5, (4, "temp"): 3.5}
    assert bounded.codes == {3: "too_long"} and "ingest.max_field_chars" in bounded.rejections[0].reason


@pytest.mark.parametrize("quoted", [True, False], ids=["quoted", "unquoted"])
def test_a_number_too_large_for_a_float_says_so(write_csv, read_csv, quoted: bool) -> None:
    asset = '"m-001"' if quoted else "m-001"
    huge = "1" + "0" * 1_000_000
    path = write_csv(f"{HEADER}{asset},{_stamp(0)},{huge}\nm-001,{_stamp(1)},2\n")
    result = read_csv(path)
    assert result.values == {(3, "temp"): 2.0}
    [rejection] = result.rejections
    assert (rejection.line, rejection.column, rejection.code) == (2, "temp", "number_too_large")
    assert "number too large" in rejection.reason and "'inf'" not in rejection.reason
    assert "1,000,001 characters" in rejection.reason and len(rejection.reason) < 300


def test_a_written_infinity_is_still_not_finite(write_csv, read_csv) -> None:
    result = read_csv(write_csv(f"{HEADER}m-001,{_stamp(0)},inf\n"))
    assert result.codes == {2: "not_finite"}


@pytest.mark.parametrize("codec", ["utf-16", "utf-32"])
def test_a_utf16_file_is_refused_with_the_fix(write_csv, codec: str) -> None:
    path = write_csv((HEADER + f"m-001,{_stamp(0)},1.5\n").encode(codec))
    with pytest.raises(InputDataError, match="UTF-16 or UTF-32.*convert it to UTF-8"):
        CsvConnector().open(path)
