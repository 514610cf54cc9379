"""Original and source-grouped splits: no source photo may cross parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantpulse.data.core.errors import DatasetError, InputDataError
from plantpulse.data.core.records import YoloBox
from plantpulse.model.weld.dataset import LabelledImage
from plantpulse.model.weld.splits import (
    grouped_split,
    has_reject_box,
    hold_out_group,
    one_per_source,
    original_split,
)

REJECT = {0, 2}


def make_items(n_sources: int = 60, copies: int = 3) -> list[LabelledImage]:
    """Sources with several copies in 'train'; every third source is a good weld."""
    items = []
    for s in range(n_sources):
        cls = 1 if s % 3 == 0 else 2
        for c in range(copies):
            name = f"src{s:03d}_jpg.rf.{c:032x}.jpg"
            items.append(LabelledImage(Path(name), (YoloBox(cls, 0.5, 0.5, 0.2, 0.2),),
                                       "train" if s < 40 else ("valid" if s < 50 else "test"),
                                       f"src{s:03d}_jpg", f"{s:032x}{c:032x}"))
    return items


def test_grouped_split_has_no_leakage() -> None:
    split = grouped_split(make_items(), seed=3, reject_classes=REJECT)
    assert split.overlap() == {"train&val": 0, "train&test": 0, "val&test": 0}
    sources = {it.source for part in ("train", "val", "test") for it in split.part(part)}
    assert len(sources) == 60


def test_grouped_split_eval_parts_hold_one_image_per_source() -> None:
    split = grouped_split(make_items(), seed=0, reject_classes=REJECT)
    for part in (split.val, split.test):
        assert len(part) == len({it.source for it in part})
    assert len(split.train) == 3 * len({it.source for it in split.train})


def test_grouped_split_is_stratified_and_seeded() -> None:
    items = make_items()
    a = grouped_split(items, seed=1, reject_classes=REJECT)
    b = grouped_split(items, seed=1, reject_classes=REJECT)
    c = grouped_split(items, seed=2, reject_classes=REJECT)
    assert a == b and a.test != c.test
    defective = [has_reject_box(it, REJECT) for it in a.test]
    assert any(defective) and not all(defective)


def test_summary_counts() -> None:
    summary = grouped_split(make_items(), seed=0, reject_classes=REJECT).summary()
    assert summary["val"] == {"images": 9, "sources": 9, "clips": 0, "video_frames": 0}
    assert summary["train"]["images"] == 3 * summary["train"]["sources"]


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.8, 0.3, -0.1), (0.7, 0.2, 0.2)],
                         ids=["two", "negative", "sum"])
def test_bad_fractions(fractions: tuple[float, ...]) -> None:
    with pytest.raises(InputDataError, match="three positive numbers summing to 1"):
        grouped_split(make_items(), fractions=fractions)


def test_original_split_reports_leakage() -> None:
    items = make_items()
    leaked = LabelledImage(Path("src000_jpg.rf.ff.jpg"), (), "test", "src000_jpg", "f" * 64)
    split = original_split([*items, leaked])
    assert split.overlap()["train&test"] == 1
    assert split.strategy == "original"


def test_original_split_needs_all_folders() -> None:
    with pytest.raises(DatasetError, match="no images in test"):
        original_split([it for it in make_items() if it.origin != "test"])


def test_unknown_part() -> None:
    with pytest.raises(InputDataError, match="Unknown split part 'dev'. Available: train, val, test"):
        grouped_split(make_items()).part("dev")


def test_one_per_source() -> None:
    assert len(one_per_source(make_items(5, 4))) == 5


def test_hold_out_group() -> None:
    rest, group = hold_out_group(make_items(), r"src00[0-4]")
    assert {it.source for it in group} == {f"src00{i}_jpg" for i in range(5)}
    assert len(rest) + len(group) == 180


@pytest.mark.parametrize(("pattern", "error", "match"),
                         [("nomatch", DatasetError, "No image source matches"),
                          ("(", InputDataError, "Invalid group pattern")],
                         ids=["no-match", "bad-regex"])
def test_hold_out_group_errors(pattern: str, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        hold_out_group(make_items(), pattern)
