"""Reading YOLO weld folders into typed records."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantpulse.data.core.errors import DatasetError, InputDataError
from plantpulse.data.core.records import YoloBox
from plantpulse.data.core.yolo import parse_yolo_line
from plantpulse.model.weld.dataset import (
    drop_exact_duplicates,
    read_class_names,
    read_labels,
    scan_yolo_dataset,
    source_key,
)
from plantpulse.model.weld.synthetic import NAMES, write_synthetic_dataset


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("SampleV1_1_mp4-12_jpg.rf.0e17429016ccf65ab354ee2c5e98c0cc.jpg", "SampleV1_1_mp4-12_jpg"),
        ("a.rf.b.rf.c.jpg", "a"),
        ("plain_photo.png", "plain_photo"),
        ("/some/dir/x_jpg.rf.1.jpg", "x_jpg"),
    ],
    ids=["roboflow", "twice", "no-rf", "with-dir"],
)
def test_source_key(name: str, source: str) -> None:
    assert source_key(name) == source


def test_parse_label_line() -> None:
    assert parse_yolo_line("2 0.5 0.25 0.1 0.2", "f:1", 3) == YoloBox(2, 0.5, 0.25, 0.1, 0.2)
    polygon = parse_yolo_line("1 0.1 0.2 0.3 0.2 0.3 0.6", "f:2", 3, polygons=True, names=("a", "b", "c"))
    assert polygon.class_name == "b" and (polygon.cx, polygon.cy) == pytest.approx((0.2, 0.4))


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("2 0.5 0.5 0.1", "f.txt:3: expected 5 fields"),
        ("3 0.5 0.5 0.1 0.1", "class '3' is not an index below 3"),
        ("-1 0.5 0.5 0.1 0.1", "class '-1' is not an index"),
        ("1 0.5 x 0.1 0.1", "'x' is not a number"),
        ("1 0.5 1.5 0.1 0.1", "normalised to 0..1"),
    ],
    ids=["fields", "class-high", "class-negative", "not-number", "out-of-range"],
)
def test_parse_label_line_errors(line: str, match: str) -> None:
    with pytest.raises(InputDataError, match=match):
        parse_yolo_line(line, "f.txt:3", 3)


def test_a_bad_label_file_fails_the_dataset_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n1 0.5 x 0.1 0.1\n")
    with pytest.raises(DatasetError, match=r"a.txt:2: 'x' is not a number"):
        read_labels(tmp_path / "a.txt", 3)


def test_missing_label_file_is_background(tmp_path: Path) -> None:
    assert read_labels(tmp_path / "none.txt", 3) == ()


@pytest.mark.parametrize(
    ("text", "names"),
    [("names: [a, b]\n", ("a", "b")), ("names: {1: b, 0: a}\n", ("a", "b"))],
    ids=["list", "mapping"],
)
def test_class_names(tmp_path: Path, text: str, names: tuple[str, ...]) -> None:
    (tmp_path / "data.yaml").write_text(text)
    assert read_class_names(tmp_path) == names


def test_class_names_missing(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no class list; expected one of classes.yaml, data.yaml"):
        read_class_names(tmp_path)


def test_scan_synthetic_dataset(tmp_path: Path) -> None:
    root = write_synthetic_dataset(tmp_path, {"train": 3, "valid": 2, "test": 2}, size=64, copies=2)
    names, items = scan_yolo_dataset(root)
    assert names == NAMES
    assert len(items) == 3 * 2 + 2 + 2
    train = [it for it in items if it.origin == "train"]
    assert len({it.source for it in train}) == 3
    assert all(it.boxes for it in items)
    assert all(len(it.sha256) == 64 for it in items)


def test_scan_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist. Point PLANTPULSE_DATASETS"):
        scan_yolo_dataset(tmp_path / "nowhere")


def test_scan_missing_split(tmp_path: Path) -> None:
    root = write_synthetic_dataset(tmp_path, {"train": 1, "valid": 1}, size=64)
    with pytest.raises(DatasetError, match="missing split folder test/images"):
        scan_yolo_dataset(root)


def test_drop_exact_duplicates(tmp_path: Path) -> None:
    root = write_synthetic_dataset(tmp_path, {"train": 2, "valid": 1, "test": 1}, size=64, copies=1)
    _, items = scan_yolo_dataset(root)
    kept, dropped = drop_exact_duplicates([*items, items[0]])
    assert (len(kept), dropped) == (len(items), 1)
