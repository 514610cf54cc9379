"""The clip split: frames of one video clip, and copies of one photo, never sit in two parts."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from plantpulse.data.core.errors import DatasetError, InputDataError
from plantpulse.data.core.records import YoloBox
from plantpulse.model.weld.dataset import LabelledImage, drop_exact_duplicates, scan_yolo_dataset
from plantpulse.model.weld.splits import (
    DEFAULT_STRATEGY,
    PARTS,
    STRATEGIES,
    clip_key,
    clip_split,
    group_key,
    grouped_split,
    has_reject_box,
)

REJECT = {0, 2}


@pytest.mark.parametrize(("source", "clip"), [
    ("SampleV1_2_mp4-14_jpg", "video:SampleV1"),  # parts _1/_2 of one recording: one clip
    ("SampleV2_1_mp4-97_jpg", "video:SampleV2"),
    ("SampleV3_mp4-0_jpg", "video:SampleV3"),
    ("line_a_cam_MOV-12_jpg", "video:line_a_cam"),
    ("shift3_avi-7", "video:shift3"),
    ("bad_weld_vid278_jpeg_jpg", "video:bad_weld_vid"),
    ("good_weld_vid99_jpeg_jpg", "video:good_weld_vid"),
    ("vid12_jpg", "video:vid"),
    ("Screenshot-2022-12-05-223616_jpeg_jpg", None),
    ("mig-good-welds_11_jpeg_jpg", None),
    ("02fd0af7-51ab46bb-c13_jpg", None),
    ("IMG20220609081234_jpg", None),
    ("david3_jpg", None),
    ("mp4-tutorial_jpg", None),
])
def test_clip_key_reads_video_frame_names(source: str, clip: str | None) -> None:
    assert clip_key(source) == clip


def test_group_key_is_the_clip_else_the_photo() -> None:
    frame = LabelledImage(Path("a_mp4-3_jpg.rf.1.jpg"), (), "train", "a_mp4-3_jpg", "1" * 64)
    photo = LabelledImage(Path("weld_jpg.rf.2.jpg"), (), "train", "weld_jpg", "2" * 64)
    assert (group_key(frame), group_key(photo)) == ("video:a", "photo:weld_jpg")


CLIPS = {"lineA_1": 30, "lineA_2": 10, "lineB": 20, "lineC": 12, "cellD": 8, "cellE": 5, "cellF": 3}


def make_items(photos: int = 90) -> list[LabelledImage]:
    """Video clips (frames alternate good/defective) and photos with 2 augmented copies each."""
    items = []
    for clip, frames in CLIPS.items():
        for frame in range(frames):
            source = f"{clip}_mp4-{frame}_jpg"
            box = YoloBox(1 if frame % 2 else 2, 0.5, 0.5, 0.2, 0.2)
            items.append(LabelledImage(Path(f"{source}.rf.{frame:032x}.jpg"), (box,), "train",
                                       source, f"{clip}{frame}".ljust(64, "0")))
    for s in range(photos):
        source = f"photo{s:03d}_jpg"
        for c in range(2):
            box = YoloBox(1 if s % 3 == 0 else 0, 0.5, 0.5, 0.2, 0.2)
            items.append(LabelledImage(Path(f"{source}.rf.{c:032x}.jpg"), (box,), "train", source,
                                       f"p{s}c{c}".ljust(64, "0")))
    return items


@pytest.mark.parametrize("seed", range(8))
def test_no_clip_and_no_photo_spans_two_parts(seed: int) -> None:
    items = make_items()
    split = clip_split(items, seed=seed, reject_classes=REJECT)
    owner: dict[str, set[str]] = {}
    for part in PARTS:
        for item in split.part(part):
            owner.setdefault(group_key(item), set()).add(part)
    assert all(len(parts) == 1 for parts in owner.values()), owner
    assert split.clip_overlap() == {"train&val": 0, "train&test": 0, "val&test": 0}
    assert split.overlap() == {"train&val": 0, "train&test": 0, "val&test": 0}
    assert len(owner) == len(CLIPS) - 1 + 90  # lineA_1 and lineA_2 are one recording


def test_every_source_lands_in_one_part_with_eval_parts_one_per_source() -> None:
    items = make_items()
    split = clip_split(items, seed=1, reject_classes=REJECT)
    sources = Counter(it.source for part in PARTS for it in split.part(part) if part != "train")
    assert max(sources.values()) == 1
    train_sources = {it.source for it in split.train}
    assert len(split.train) == sum(it.source in train_sources for it in items)  # all copies train
    assert train_sources | set(sources) == {it.source for it in items}


def test_parts_fill_their_share_and_big_clips_train() -> None:
    items = make_items()
    total = len({it.source for it in items})
    for seed in range(5):
        split = clip_split(items, seed=seed, reject_classes=REJECT)
        for part in ("val", "test"):
            assert 0.10 * total <= len(split.part(part)) <= 0.15 * total + 1
        assert "video:lineA" in split.clips("train")  # 40 frames: more than a part's share


def test_clip_split_is_seeded_and_stratified() -> None:
    items = make_items()
    a, b, c = (clip_split(items, seed=s, reject_classes=REJECT) for s in (3, 3, 4))
    assert a == b and a.test != c.test and a.strategy == "clip"
    defective = [has_reject_box(it, REJECT) for it in a.test]
    assert any(defective) and not all(defective)


def test_grouped_split_does_let_clips_straddle_parts() -> None:
    split = grouped_split(make_items(), seed=0, reject_classes=REJECT)
    assert sum(split.clip_overlap().values()) > 0  # what the clip split exists to prevent


def test_clip_split_refuses_empty_parts() -> None:
    only_clips = [it for it in make_items(photos=0) if it.source.startswith("lineA")]
    with pytest.raises(DatasetError, match="left val and test empty"):
        clip_split(only_clips, seed=0, reject_classes=REJECT)


def test_clip_is_the_default_everywhere() -> None:
    from plantpulse.data.core.config.settings import Settings
    from plantpulse.pipelines.cli import weld as weld_cli
    from plantpulse.pipelines.weld.workflow import SPLIT_STRATEGIES, make_split, prepare_data

    assert DEFAULT_STRATEGY == "clip" == Settings().weld.split
    assert set(STRATEGIES) == set(SPLIT_STRATEGIES) == set(weld_cli.SPLIT_CHOICES)
    assert prepare_data.__defaults__[0] == "clip"
    for command in (weld_cli.train, weld_cli.evaluate):
        option = next(p for p in command.params if p.name == "strategy")
        assert option.default is None and list(option.type.choices) == list(STRATEGIES)
    with pytest.raises(InputDataError, match="Available: clip, grouped, original"):
        make_split(make_items(), ("Bad Weld", "Good Weld", "Defect"), "by-day", 0)


def write_dataset(root: Path, items: list[tuple[str, int]]) -> Path:
    """A YOLO folder whose ``train`` holds one small image per (source, class) pair."""
    rng = np.random.default_rng(0)
    for sub in ("images", "labels"):
        for folder in ("train", "valid", "test"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
    for source, cls in items:
        name = f"{source}.rf.{hashlib.sha256(source.encode()).hexdigest()[:16]}"
        pixels = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "train" / "images" / f"{name}.png")
        (root / "train" / "labels" / f"{name}.txt").write_text(f"{cls} 0.5 0.5 0.2 0.2\n")
    (root / "classes.yaml").write_text(yaml.safe_dump({"names": ["Bad Weld", "Good Weld", "Defect"]}))
    return root


@pytest.fixture(scope="module")
def clip_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    items = [(f"{clip}_mp4-{n}_jpg", 2 if n % 2 else 1) for clip in ("lineA", "lineB", "lineC")
             for n in range(6)]
    items += [(f"photo{n:02d}_jpg", 0 if n % 2 else 1) for n in range(40)]
    return write_dataset(tmp_path_factory.mktemp("clips"), items)


def model_trained_on(split: str | None, seed: int = 0):
    from plantpulse.model.weld.checkpoint import untrained_weld_model

    model = untrained_weld_model(("Bad Weld", "Good Weld", "Defect"), imgsz=64)
    train = {} if split is None else {"split": split, "split_seed": seed}
    return model.with_card(train=train, reject_classes=("Bad Weld", "Defect"))


def test_checkpoint_of_another_split_is_refused(clip_data: Path) -> None:
    from plantpulse.pipelines.weld.workflow import check_held_out, make_split

    names, items = scan_yolo_dataset(clip_data)
    items, _ = drop_exact_duplicates(items)
    clip = make_split(items, names, "clip", 0)
    grouped_model = model_trained_on("grouped")
    with pytest.raises(InputDataError, match=r"trained on the 'grouped' split .* --split grouped"):
        check_held_out(grouped_model, clip_data, clip)
    check_held_out(model_trained_on("clip"), clip_data, clip)  # its own split: fine
    check_held_out(model_trained_on("clip+reviews"), clip_data, clip)
    check_held_out(model_trained_on(None), clip_data, clip)  # nothing recorded: not checked
    with pytest.raises(InputDataError, match="trained on the 'clip' split"):
        check_held_out(model_trained_on("clip", seed=1), clip_data, clip)

