"""The csv connector on wide files: values, line numbers, and every kind of bad cell or row."""

from __future__ import annotations

import pytest

from plantpulse.connectors.sensors.options import ChannelLimit
from plantpulse.data.core.errors import InputDataError

T0 = 1_704_067_200_000_000
HOUR = 3_600_000_000
HEADER = "asset,timestamp,temp,pressure\n"


def test_reads_values_with_exact_lines(write_csv, read_csv) -> None:
    path = write_csv(HEADER + "m1,2024-01-01T00:00:00Z,1.5,2\nm2,2024-01-01T01:00:00Z,3,4.25\n")
    result = read_csv(path)
    assert result.rows == [
        ("m1", T0, "temp", 1.5, 2), ("m1", T0, "pressure", 2.0, 2),
        ("m2", T0 + HOUR, "temp", 3.0, 3), ("m2", T0 + HOUR, "pressure", 4.25, 3),
    ]
    assert result.rejections == [] and result.total("rows") == 2


@pytest.mark.parametrize(
    ("row", "code", "column"),
    [
        ("m1,2024-01-01T00:00:00Z,n/a,2", "not_numeric", "temp"),
        ("m1,2024-01-01T00:00:00Z,nan,2", "not_finite", "temp"),
        ("m1,2024-01-01T00:00:00Z,-inf,2", "not_finite", "temp"),
        ("m1,2024-01-01T00:00:00Z,1e999,2", "number_too_large", "temp"),
        ("m1,2024-01-01T00:00:00Z,1.2.3,2", "not_numeric", "temp"),
        ("m1,yesterday,1,2", "bad_timestamp", "timestamp"),
        ("m1,2024-13-01T00:00:00Z,1,2", "bad_timestamp", "timestamp"),
        ("m1,,1,2", "bad_timestamp", "timestamp"),
        ("m1,1960-01-01T00:00:00Z,1,2", "time_out_of_range", "timestamp"),
        ("m1,2999-01-01T00:00:00Z,1,2", "time_out_of_range", "timestamp"),
        (",2024-01-01T00:00:00Z,1,2", "empty_asset", "asset"),
        ("m1,2024-01-01T00:00:00Z,1,2,3", "field_count", None),
        ("m1,2024-01-01T00:00:00Z,1", "field_count", None),
        ("m1,2024-01-01T00:00:00Z,1\x00,2", "nul_byte", None),
        ("m1,2024-01-01T00:00:00Z,1\r5,2", "stray_cr", None),
    ],
    ids=["text", "nan", "minus-inf", "overflow", "two-dots", "word-time", "month-13", "empty-time",
         "too-old", "future", "empty-asset", "too-many-fields", "too-few-fields", "nul", "stray-cr"],
)
def test_bad_input_is_rejected_and_the_rest_loads(write_csv, read_csv, row: str, code: str,
                                                  column: str | None) -> None:
    path = write_csv(HEADER + "m0,2024-01-01T00:00:00Z,7,8\n" + row + "\nm9,2024-01-01T02:00:00Z,5,6\n")
    result = read_csv(path)
    [rejection] = result.rejections
    assert (rejection.line, rejection.code, rejection.column) == (3, code, column)
    assert rejection.source == "readings.csv" and rejection.reason
    assert rejection.raw == row.replace("\x00", "\\x00").replace("\r", "\r")
    assert {(2, "temp"), (2, "pressure"), (4, "temp"), (4, "pressure")} <= set(result.values)
    if code in ("not_numeric", "not_finite", "number_too_large"):  # a bad cell costs only that cell
        assert result.values[(3, "pressure")] == 2.0


def test_invalid_utf8_line_is_rejected(write_csv, read_csv) -> None:
    path = write_csv((HEADER + "m1,2024-01-01T00:00:00Z,1,2\n").encode() + b"m\xff,2024-01-01T01:00:00Z,1,2\n")
    result = read_csv(path)
    assert result.codes == {3: "encoding"}
    assert "0xff" in result.rejections[0].reason and (2, "temp") in result.values


def test_latin1_file_reads_with_encoding(write_csv, read_csv) -> None:
    path = write_csv("asset,timestamp,temp\nPresse-Müller,2024-01-01T00:00:00Z,1\n".encode("latin-1"))
    result = read_csv(path, encoding="latin-1")
    assert result.rows[0][0] == "Presse-Müller" and not result.rejections


def test_empty_cells_blank_and_filler_lines_are_not_errors(write_csv, read_csv) -> None:
    path = write_csv(HEADER + "m1,2024-01-01T00:00:00Z,,2\n\n,,,\nm1,2024-01-01T01:00:00Z,3,\n")
    result = read_csv(path)
    assert result.rejections == []
    assert result.values == {(2, "pressure"): 2.0, (5, "temp"): 3.0}
    assert (result.total("empty_cells"), result.total("blank_lines")) == (2, 2)


def test_na_values_mean_no_value(write_csv, read_csv) -> None:
    path = write_csv(HEADER + "m1,2024-01-01T00:00:00Z,n/a,2\n")
    result = read_csv(path, na_values=("n/a",))
    assert result.rejections == [] and result.values == {(2, "pressure"): 2.0}


def test_crlf_bom_and_missing_final_newline(write_csv, read_csv) -> None:
    path = write_csv(b"\xef\xbb\xbf" + (HEADER + "m1,2024-01-01T00:00:00Z,1,2\nm1,2024-01-01T01:00:00Z,3,4").replace("\n", "\r\n").encode())
    result = read_csv(path)
    assert result.rejections == [] and result.values[(3, "pressure")] == 4.0


@pytest.mark.parametrize(
    ("header", "channel", "unit"),
    [("temp [degC]", "temp", "degC"), ("temp (degC)", "temp", "degC"), ("flow  [m3/h] ", "flow", "m3/h"),
     ("temp", "temp", ""), ("a(b)c", "a(b)c", "")],
    ids=["brackets", "parens", "spaces", "none", "parens-inside"],
)
def test_units_come_from_the_header(write_csv, read_csv, header: str, channel: str, unit: str) -> None:
    path = write_csv(f"asset,timestamp,{header}\nm1,2024-01-01T00:00:00Z,1\n")
    [chunk] = read_csv(path).chunks
    assert (chunk.channels[0].name, chunk.channels[0].unit, chunk.columns[0]) == (channel, unit, header.strip())


def test_units_option_overrides_the_header(write_csv, read_csv) -> None:
    path = write_csv("asset,timestamp,temp [degC]\nm1,2024-01-01T00:00:00Z,1\n")
    assert read_csv(path, units={"temp": "K"}).chunks[0].channels[0].unit == "K"


@pytest.mark.parametrize(
    ("stamp", "zone", "expected"),
    [("2024-01-01T01:00:00+01:00", "UTC", T0), ("2024-01-01 00:00:00Z", "UTC", T0),
     ("2024-01-01T01:00:00", "Europe/Berlin", T0), ("2024-07-01T02:00:00", "Europe/Berlin", T0 + 4368 * HOUR),
     ("2024-01-01T00:00:00.250Z", "UTC", T0 + 250_000)],
    ids=["offset", "space-z", "naive-winter", "naive-summer", "fraction"],
)
def test_time_zones(write_csv, read_csv, stamp: str, zone: str, expected: int) -> None:
    path = write_csv(f"asset,timestamp,temp\nm1,{stamp},1\n")
    assert read_csv(path, timezone=zone).rows[0][1] == expected


def test_local_times_in_a_dst_gap_or_overlap_are_rejected(write_csv, read_csv) -> None:
    path = write_csv("asset,timestamp,temp\nm1,2024-03-31T02:30:00,1\nm1,2024-10-27T02:30:00,2\nm1,2024-10-27T04:00:00,3\n")
    result = read_csv(path, timezone="Europe/Berlin")
    assert result.codes == {2: "local_time", 3: "local_time"}
    assert "Europe/Berlin" in result.rejections[0].reason and (4, "temp") in result.values


@pytest.mark.parametrize(("unit", "cell", "expected"), [("s", "1704067200", T0), ("ms", "1704067200500", T0 + 500_000),
                                                        ("s", "1704067200.25", T0 + 250_000)], ids=["s", "ms", "fraction"])
def test_epoch_timestamps(write_csv, read_csv, unit: str, cell: str, expected: int) -> None:
    path = write_csv(f"asset,timestamp,temp\nm1,{cell},1\nm1,soon,2\n")
    result = read_csv(path, epoch_unit=unit)
    assert result.rows[0][1] == expected and result.codes == {3: "bad_timestamp"}


def test_time_format(write_csv, read_csv) -> None:
    path = write_csv("asset,timestamp,temp\nm1,01.01.2024 01:00,1\nm1,2024-01-01,2\n")
    result = read_csv(path, time_format="%d.%m.%Y %H:%M", timezone="Europe/Berlin")
    assert result.rows[0][1] == T0 and result.codes == {3: "bad_timestamp"}
    assert "--time-format" in result.rejections[0].reason


def test_channel_limits(write_csv, read_csv) -> None:
    path = write_csv(HEADER + "m1,2024-01-01T00:00:00Z,150,2\nm1,2024-01-01T01:00:00Z,-41,2\n")
    result = read_csv(path, limits={"temp": ChannelLimit(-40, 120)})
    assert result.codes == {2: "out_of_range", 3: "out_of_range"}
    assert "[-40, 120]" in result.rejections[0].reason and result.values[(2, "pressure")] == 2.0


@pytest.mark.parametrize(
    ("name", "options", "asset"),
    [("press-07_2024.csv", {"asset_pattern": r"(press-\d+)_"}, "press-07"),
     ("x.csv", {"asset_pattern": r"(?P<asset>x)"}, "x"),
     ("any.csv", {"asset": "line-3"}, "line-3")],
    ids=["pattern-group", "named-group", "fixed"],
)
def test_asset_from_file_name_or_fixed(write_csv, read_csv, name: str, options: dict, asset: str) -> None:
    path = write_csv("timestamp,temp\n2024-01-01T00:00:00Z,1\n", name=name)
    assert read_csv(path, **options).rows[0][0] == asset


def test_asset_template_formats_numbers(write_csv, read_csv) -> None:
    path = write_csv("datetime,machineID,volt\n2015-01-01 06:00:00,7,176.2\n2015-01-01 06:00:00,x,1\n")
    result = read_csv(path, asset_template="azure-machine-{:03d}")
    assert result.rows[0][0] == "azure-machine-007"
    assert result.codes == {3: "bad_asset"} and "asset-template" in result.rejections[0].reason


def test_small_chunks_give_the_same_result(write_csv, read_csv) -> None:
    rows = [f"m{i % 3},2024-01-01T{i % 24:02d}:{i // 24:02d}:00Z,{i}.5,{'bad' if i % 7 == 0 else i}" for i in range(200)]
    path = write_csv(HEADER + "\n".join(rows) + "\n")
    whole, chunked = read_csv(path), read_csv(path, chunk_rows=13)
    assert len(chunked.chunks) == 16
    assert sorted(whole.rows) == sorted(chunked.rows)
    assert [(r.line, r.column, r.code) for r in whole.rejections] == [(r.line, r.column, r.code) for r in chunked.rejections]


def test_quoted_file_takes_the_exact_path_with_correct_lines(write_csv, read_csv) -> None:
    path = write_csv('asset,timestamp,temp,note\n"m,1",2024-01-01T00:00:00Z,1,"two\nlines"\nm2,2024-01-01T00:00:00Z,x,y\nm3,2024-01-01T00:00:00Z,3,z\n')
    result = read_csv(path, ignore_columns=("note",))
    assert [(r[0], r[4]) for r in result.rows] == [("m,1", 2), ("m3", 5)]
    assert result.codes == {4: "not_numeric"}


@pytest.mark.parametrize(
    ("content", "options", "match"),
    [("", {}, "empty"),
     ("asset,value\nm1,1\n", {}, "no timestamp column"),
     ("timestamp,temp\n2024-01-01T00:00:00Z,1\n", {}, "no asset column"),
     ("asset,timestamp,t,t\n", {}, "appears twice"),
     ("asset,timestamp,,t\n", {}, "has no name"),
     ("asset,timestamp,temp\n", {"asset_column": "machine"}, "no column 'machine'"),
     ("asset,timestamp\n", {}, "no channel columns"),
     ("timestamp,temp\n", {"asset_pattern": "zzz"}, "does not match asset_pattern")],
    ids=["empty", "no-time", "no-asset", "duplicate", "unnamed", "missing-asset-col", "no-channels", "pattern"],
)
def test_file_level_problems_raise_clear_errors(write_csv, read_csv, content: str, options: dict, match: str) -> None:
    with pytest.raises(InputDataError, match=match):
        read_csv(write_csv(content), **options)
