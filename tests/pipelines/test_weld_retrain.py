"""Which database labels a retraining may use, and how they become YOLO boxes."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantpulse.data.store.schema import WeldImage, WeldLabel
from plantpulse.pipelines.weld.retrain import reviewed_images

NAMES = ("Bad Weld", "Good Weld", "Defect")
REJECT = ("Bad Weld", "Defect")


def add_image(session, store: Path, n: int, name: str | None = None) -> WeldImage:
    sha = f"{n:064x}"
    relative = f"{sha[:2]}/{sha}.jpg"
    (store / relative).parent.mkdir(parents=True, exist_ok=True)
    (store / relative).write_bytes(b"jpeg bytes")
    row = WeldImage(sha256=sha, storage_path=relative, original_name=name or f"img{n}.jpg",
                    width=200, height=100, format="JPEG")
    session.add(row)
    session.flush()
    return row


def label(session, image: WeldImage, source: str, boxes: list, verdict: str | None = None) -> None:
    session.add(WeldLabel(image_id=image.id, source=source, boxes=boxes, verdict=verdict))
    session.flush()


DEFECT_PX = {"class_id": 2, "class_name": "Defect", "score": None, "box": [20, 10, 60, 30]}
DEFECT_YOLO = {"class_id": 0, "class_name": "Defect", "cx": 0.5, "cy": 0.5, "w": 0.2, "h": 0.4}


def test_labels_become_training_images(database, tmp_path: Path) -> None:
    with database.session() as session:
        reviewed = add_image(session, tmp_path, 1)
        label(session, reviewed, "import", [DEFECT_YOLO])
        label(session, reviewed, "review", [DEFECT_PX], "reject")  # the review wins
        imported = add_image(session, tmp_path, 2)
        label(session, imported, "import", [DEFECT_YOLO])  # class 0 in the upload, 2 here
        held = add_image(session, tmp_path, 3, "SampleV1_1_mp4-7_jpg.rf.abc.jpg")
        label(session, held, "review", [], "pass")
        label(session, add_image(session, tmp_path, 4), "review", [], "reject")
        label(session, add_image(session, tmp_path, 5), "review",
              [{"class_name": "Crack", "box": [0, 0, 5, 5]}], "reject")
        missing = add_image(session, tmp_path, 6)
        (tmp_path / missing.storage_path).unlink()
        label(session, missing, "review", [], "pass")
        items, skipped = reviewed_images(session, tmp_path, NAMES, REJECT,
                                         held_out={"SampleV1_1_mp4-7_jpg"})
    assert [(it.origin, it.sha256[-1]) for it in items] == [("review", "1"), ("import", "2")]
    first = items[0].boxes[0]
    assert (first.class_id, first.cx, first.cy, first.w, first.h) == pytest.approx((2, 0.2, 0.2, 0.2, 0.2))
    assert items[1].boxes[0].class_id == 2
    assert skipped == {"in the fixed validation/test images": 1,
                       "rejected without any defect box": 1,
                       "a box class the detector does not know": 1,
                       "image file missing from the store": 1}


def test_reviewed_frame_of_a_held_out_clip_is_not_trained_on(database, tmp_path: Path) -> None:
    """Another frame of a clip in val/test would put a near-duplicate of a test image in training."""
    with database.session() as session:
        frame = add_image(session, tmp_path, 7, "SampleV1_2_mp4-30_jpg.rf.def.jpg")
        label(session, frame, "review", [DEFECT_PX], "reject")
        photo = add_image(session, tmp_path, 8, "other-photo_jpg.rf.abc.jpg")
        label(session, photo, "review", [DEFECT_PX], "reject")
        items, skipped = reviewed_images(session, tmp_path, NAMES, REJECT, held_out={"video:SampleV1"})
    assert [it.source for it in items] == ["other-photo_jpg"]
    assert skipped == {"in the fixed validation/test images": 1}


@pytest.mark.parametrize(("recorded", "expected"), [
    ({"split": "grouped", "split_seed": 0}, "grouped"), ({"split": "clip+reviews"}, "clip"),
    ({}, "clip"), ({"split": "by-day"}, "clip")])
def test_retrain_keeps_the_split_the_detector_was_trained_on(recorded: dict, expected: str) -> None:
    from plantpulse.data.core.config.settings import Settings
    from plantpulse.pipelines.weld.retrain import base_split

    assert base_split(Settings(), recorded) == expected
