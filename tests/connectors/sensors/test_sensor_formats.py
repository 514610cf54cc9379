"""Sensor files as plants send them: compressed, zipped, without a header, with times counted
from a start, named by the file, or as MATLAB vectors; and errors that name the real cause."""

from __future__ import annotations

import gzip
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from conftest import T0, read_all

from plantpulse.connectors.registry import connector_for_file
from plantpulse.connectors.sensors.csv_connector import CsvConnector
from plantpulse.connectors.sensors.matlab import MatConnector
from plantpulse.connectors.sensors.options import ChannelLimit, SensorOptions
from plantpulse.data.core.errors import ConfigError, InputDataError, UploadRejectedError

CSV = b"asset,timestamp,temp\nm1,2024-01-01T00:00:00Z,1.5\nm1,2024-01-01T00:01:00Z,x\n"
START = datetime(2024, 1, 1, tzinfo=UTC)


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(("name", "data"), [
    ("line.csv.gz", gzip.compress(CSV)),
    ("line.zip", _zip({"export/line.csv": CSV})),
    ("line.csv", gzip.compress(CSV)),  # the bytes decide, not the name
], ids=["gzip", "zip", "gzip-named-csv"])
def test_compressed_files_read_like_the_plain_file(tmp_path: Path, name: str, data: bytes) -> None:
    plain, packed = tmp_path / "plain.csv", tmp_path / name
    plain.write_bytes(CSV)
    packed.write_bytes(data)
    expected, got = read_all(plain), read_all(packed)
    assert got.rows == expected.rows == [("m1", T0, "temp", 1.5, 2)]
    assert got.codes == expected.codes == {3: "not_numeric"}


def test_the_unpacked_copy_is_removed_when_reading_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plantpulse.connectors import unpack

    folder = tmp_path / "unpacked"
    monkeypatch.setattr(unpack.tempfile, "mkdtemp", lambda prefix: (folder.mkdir(), str(folder))[1])
    path = tmp_path / "line.csv.gz"
    path.write_bytes(gzip.compress(CSV))
    stream = CsvConnector(SensorOptions()).open(path)
    assert "unpacked from gzip: line.csv" in stream.info.notes and (folder / "line.csv").is_file()
    assert list(stream)
    assert not folder.exists()


@pytest.mark.parametrize(("data", "message"), [
    (_zip({"a.csv": CSV, "b.csv": CSV}), r"a zip must hold exactly one data file, but it holds 2 files \(a.csv, b.csv\)"),
    (_zip({"xl/workbook.xml": b"<x/>", "xl/sheet1.xml": b"<x/>"}), r"an Excel workbook \(.xlsx\).*save the sheet as CSV"),
    (b"PAR1" + bytes(100), r"this is a Parquet file, not a text file; name it .parquet"),
    (b"BZh91AY&SY" + bytes(50), r"bzip2-compressed, not a text file; decompress it"),
    (gzip.compress(gzip.compress(CSV)), r"the gzip data \(line.csv\) is gzip-compressed, not a text file"),
    (gzip.compress(CSV)[:25], r"the gzip data is damaged or cut short"),
], ids=["zip-of-two", "xlsx", "parquet", "bzip2", "gzip-twice", "truncated-gzip"])
def test_binary_files_are_named_for_what_they_are(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "line.csv"
    path.write_bytes(data)
    with pytest.raises(InputDataError, match=message) as caught:
        read_all(path)
    assert "utf-8" not in str(caught.value) and "--encoding" not in str(caught.value)


def test_a_gzip_bomb_stops_at_the_unpacked_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(b"asset,timestamp,temp\n" + b"m1,2024-01-01T00:00:00Z,1\n" * 100_000))
    with pytest.raises(UploadRejectedError, match=r"unpacks to more than the limit of 0.5 MB"):
        read_all(path, max_unpacked_mb=0.5)


def test_a_headerless_file_reads_with_columns(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_bytes(b"\xef\xbb\xbf2024-01-01T00:00:00Z,m1,1.5\n2024-01-01T00:01:00Z,m1,oops\n")
    result = read_all(path, columns=("timestamp", "asset", "temp"))
    assert result.rows == [("m1", T0, "temp", 1.5, 1)]
    assert result.codes == {2: "not_numeric"}


def test_a_headerless_file_without_columns_is_told_to_name_them(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_text("2024-01-01T00:00:00Z,m1,1.5\n2024-01-01T00:01:00Z,m1,1.6\n", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"is data, not a header.*--columns timestamp,asset,channel1") as caught:
        read_all(path)
    assert "no timestamp column" not in str(caught.value)


def test_a_headerless_file_of_numbers_gets_the_same_advice(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_text("0.5,1.5,1.5\n1.0,1.6,1.6\n", encoding="utf-8")  # a repeated value looks like a duplicate column
    with pytest.raises(InputDataError, match="Name its 3 fields with --columns"):
        read_all(path)


@pytest.mark.parametrize(("unit", "cells", "expected_us"), [
    ("s", ("0", "0.5"), (0, 500_000)),
    ("ms", ("0", "1500"), (0, 1_500_000)),
    (None, ("60", "61.25"), (60_000_000, 61_250_000)),  # an epoch alone means seconds
], ids=["s", "ms", "epoch-alone"])
def test_numbers_since_an_epoch(tmp_path: Path, unit: str | None, cells: tuple[str, str], expected_us: tuple[int, int]) -> None:
    path = tmp_path / "rel.csv"
    path.write_text(f"asset,t,temp\nm1,{cells[0]},1\nm1,{cells[1]},2\n", encoding="utf-8")
    result = read_all(path, time_column="t", epoch=START, epoch_unit=unit)
    assert [r[1] - T0 for r in result.rows] == list(expected_us)


def test_a_bad_number_names_the_epoch(tmp_path: Path) -> None:
    path = tmp_path / "rel.csv"
    path.write_text("asset,t,temp\nm1,soon,1\n", encoding="utf-8")
    [rejection] = read_all(path, time_column="t", epoch=START).rejections
    assert rejection.reason == "timestamp 'soon' is not a number of s since 2024-01-01T00:00:00Z"


def test_epoch_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="epoch must carry a time zone"):
        SensorOptions(epoch=datetime(2024, 1, 1))
    with pytest.raises(ConfigError, match="time_format or epoch/epoch_unit, not both"):
        SensorOptions(epoch=START, time_format="%H:%M")


@pytest.mark.parametrize(("template", "asset"), [("pump-{:03d}", "pump-007"), ("{}", "7"), ("line3-{}", "line3-7")])
def test_the_asset_template_applies_to_the_asset_pattern(tmp_path: Path, template: str, asset: str) -> None:
    path = tmp_path / "pump_7.csv"
    path.write_text("timestamp,temp\n2024-01-01T00:00:00Z,1\n", encoding="utf-8")
    result = read_all(path, asset_pattern=r"pump_(\d+)", asset_template=template)
    assert result.rows == [(asset, T0, "temp", 1.0, 2)]


def test_an_asset_pattern_value_that_does_not_fit_the_template_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pump_a.csv"
    path.write_text("timestamp,temp\n2024-01-01T00:00:00Z,1\n", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"the file name gives the asset 'a'.*does not fit --asset-template"):
        read_all(path, asset_pattern=r"pump_(\w+)\.csv", asset_template="pump-{:03d}")


# --- MATLAB vectors -------------------------------------------------------------------------------

def _mat(tmp_path: Path, name: str = "rig_097.mat", **variables: np.ndarray) -> Path:
    path = tmp_path / name
    scipy.io.savemat(path, variables or {"X097_DE_time": np.array([[0.1], [0.2], [np.nan], [0.4]]),
                                         "X097_FE_time": np.array([[1.0, 2.0, 3.0, 4.0]]),
                                         "X097RPM": np.array([[1796.0]])})
    return path


def _read_mat(path: Path, **options: object):
    chunks = list(MatConnector(SensorOptions(**{"rate_hz": 4.0, "epoch": START, "asset": "rig-97", **options})).open(path))
    rows = [(c.channels[ch].name, t - T0, v, line) for c in chunks
            for ch, t, v, line in zip(c.channel.tolist(), c.ts_us.tolist(), c.value.tolist(), c.line.tolist(), strict=True)]
    return rows, [r for c in chunks for r in c.rejections]


def test_mat_vectors_become_channels_sampled_from_the_epoch(tmp_path: Path) -> None:
    rows, rejections = _read_mat(_mat(tmp_path), mat_vars={"*_DE_time": "de_accel"})
    assert rows == [("de_accel", 0, 0.1, 1), ("de_accel", 250_000, 0.2, 2), ("de_accel", 750_000, 0.4, 4)]
    assert [(r.line, r.column, r.code, r.raw) for r in rejections] == [(3, "X097_DE_time", "not_finite", "X097_DE_time[3] = nan")]


def test_without_a_mapping_every_vector_is_a_channel_and_scalars_are_left_out(tmp_path: Path) -> None:
    rows, _ = _read_mat(_mat(tmp_path), limits={"X097_FE_time": ChannelLimit(0, 3)})
    assert {r[0] for r in rows} == {"X097_DE_time", "X097_FE_time"}
    assert [r[2] for r in rows if r[0] == "X097_FE_time"] == [1.0, 2.0, 3.0]


def test_a_gzipped_mat_file_reads_the_same(tmp_path: Path) -> None:
    path = _mat(tmp_path)
    packed = tmp_path / "rig_097.mat.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert _read_mat(packed)[0] == _read_mat(path)[0]
    assert connector_for_file(packed, "sensors") == connector_for_file(path, "sensors") == "mat"


@pytest.mark.parametrize(("options", "message"), [
    ({"rate_hz": None}, r"holds samples without times; pass --rate-hz"),
    ({"epoch": None}, r"pass --epoch TIME \(the time of the first sample\)"),
    ({"asset": None}, r"names no asset; pass --asset NAME, or --asset-pattern"),
    ({"mat_vars": {"X097_XX_time": "a"}}, r"--mat-var X097_XX_time=a matches no variable.*X097_DE_time \(4x1 double\)"),
    ({"mat_vars": {"X097_*_time": "a"}}, r"matches 2 variables"),
    ({"mat_vars": {"X097RPM": "rpm"}}, r"variable X097RPM is 1x1 double, not a numeric vector"),
], ids=["no-rate", "no-epoch", "no-asset", "unknown", "ambiguous", "scalar"])
def test_mat_files_say_what_is_missing(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(InputDataError, match=message):
        _read_mat(_mat(tmp_path), **options)


def test_a_damaged_mat_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(range(256)) * 2)
    with pytest.raises(InputDataError, match="bad.mat: not a readable MATLAB .mat file"):
        _read_mat(path)


def test_rate_is_bounded_by_microsecond_timestamps() -> None:
    with pytest.raises(ConfigError, match="at most 1,000,000 Hz"):
        SensorOptions(rate_hz=2e6)


def test_file_suffixes_pick_the_connector() -> None:
    assert [connector_for_file(n, "sensors") for n in ("a.csv.gz", "a.zip", "a.txt", "a.MAT")] == ["csv", "csv", "csv", "mat"]
    assert connector_for_file("wo.json.gz", "logs") == "logs"
