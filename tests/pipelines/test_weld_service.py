"""Weld inspections in the database: images, inspections, reviews, versions."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plantpulse.connectors.images.validation import validate_image
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.store.schema import WeldImage, WeldInspection
from plantpulse.model.weld.inference import Detection, ImageDetections
from plantpulse.pipelines.weld import service as weld_service

NAMES = ("Bad Weld", "Good Weld", "Defect")
REJECT = ("Bad Weld", "Defect")


def jpeg(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def detections(sha: str, *boxes: tuple[str, float]) -> ImageDetections:
    dets = tuple(Detection(NAMES.index(name), name, score, (5.0, 5.0, 30.0 + i, 20.0))
                 for i, (name, score) in enumerate(boxes))
    return ImageDetections(sha, 64, 48, dets)


@pytest.fixture
def version_file(tmp_path: Path) -> Path:
    path = tmp_path / "weld.safetensors"
    path.write_bytes(b"pretend checkpoint")
    return path


def inspect_one(session, store: Path, version, seed: int, *boxes):
    data = jpeg(seed)
    image = validate_image(data, name=f"weld{seed}.jpg")
    row = weld_service.store_image(session, store, data, image)
    return weld_service.record_inspection(session, row, version, detections(image.sha256, *boxes),
                                          0.5, REJECT)


def test_versions_are_idempotent_and_promotable(database, version_file: Path) -> None:
    with database.session() as session:
        first = weld_service.ensure_version(session, version_file, {"map50": 0.5}, {})
        again = weld_service.ensure_version(session, version_file, {}, {})
        assert first.id == again.id and first.stage == "candidate"
        assert weld_service.production_version(session) is None
        weld_service.promote(session, first.id)
        assert weld_service.production_version(session).id == first.id
        with pytest.raises(InputDataError, match="No weld detector version with id 999"):
            weld_service.promote(session, 999)


def test_store_image_is_content_addressed(database, tmp_path: Path, version_file: Path) -> None:
    data = jpeg(1)
    image = validate_image(data, name="a.jpg")
    with database.session() as session:
        row = weld_service.store_image(session, tmp_path / "store", data, image)
        again = weld_service.store_image(session, tmp_path / "store", data, image)
        assert row.id == again.id
        stored = tmp_path / "store" / row.storage_path
        assert stored.read_bytes() == data and stored.name == f"{image.sha256}.jpg"
        assert (row.width, row.height, row.format) == (64, 48, "JPEG")


def test_inspection_verdict_and_upsert(database, tmp_path: Path, version_file: Path) -> None:
    with database.session() as session:
        version = weld_service.ensure_version(session, version_file, {}, {})
        rejected = inspect_one(session, tmp_path, version, 1, ("Defect", 0.8), ("Good Weld", 0.9))
        passed = inspect_one(session, tmp_path, version, 2, ("Good Weld", 0.9), ("Defect", 0.2))
        assert (rejected.verdict, rejected.reject_score) == ("reject", 0.8)
        assert (passed.verdict, passed.reject_score) == ("pass", 0.2)
        assert rejected.boxes[0] == {"class_id": 2, "class_name": "Defect", "score": 0.8,
                                     "box": [5.0, 5.0, 30.0, 20.0]}
        redo = inspect_one(session, tmp_path, version, 1, ("Good Weld", 0.9))
        assert redo.id == rejected.id and redo.verdict == "pass"
        assert session.query(WeldInspection).count() == 2
        assert session.query(WeldImage).count() == 2


def test_list_and_review(database, tmp_path: Path, version_file: Path) -> None:
    with database.session() as session:
        version = weld_service.ensure_version(session, version_file, {}, {})
        a = inspect_one(session, tmp_path, version, 1, ("Defect", 0.8), ("Bad Weld", 0.3))
        b = inspect_one(session, tmp_path, version, 2, ("Good Weld", 0.9))
        views = weld_service.list_inspections(session, tmp_path)
        assert [v.inspection_id for v in views] == [b.id, a.id]
        rejects = weld_service.list_inspections(session, tmp_path, verdict="reject")
        assert [v.inspection_id for v in rejects] == [a.id]
        accepted = weld_service.save_review(session, a.id, "reject", NAMES, author="ana")
        assert [box["class_name"] for box in accepted.boxes] == ["Defect"]  # 0.3 < threshold 0.5
        assert accepted.boxes[0]["score"] is None
        corrected = weld_service.save_review(
            session, b.id, "reject", NAMES, [{"class_name": "Defect", "box": [1, 2, 10, 12]}], "bo")
        assert corrected.boxes == [{"class_id": 2, "class_name": "Defect", "score": None,
                                    "box": [1.0, 2.0, 10.0, 12.0]}]
        views = {v.inspection_id: v for v in weld_service.list_inspections(session, tmp_path)}
        assert views[b.id].review_verdict == "reject" and views[b.id].reviewed_by == "bo"
        assert views[a.id].image_path.is_file()
        assert weld_service.list_inspections(session, tmp_path, unreviewed_only=True) == []


@pytest.mark.parametrize(
    ("verdict", "boxes", "match"),
    [("maybe", None, "Unknown verdict 'maybe'. Available: pass, reject"),
     ("reject", [{"class_name": "Crack", "box": [0, 0, 5, 5]}], "Unknown class 'Crack'"),
     ("reject", [{"class_name": "Defect", "box": [0, 0, 500, 5]}], "outside the 64x48 image"),
     ("reject", [{"class_name": "Defect", "box": [5, 5, 5, 9]}], "is empty or outside"),
     ("reject", [{"box": [0, 0, 5, 5]}], "A box needs 'class_name' and 'box'")],
    ids=["verdict", "class", "outside", "empty", "missing-key"],
)
def test_review_errors(database, tmp_path: Path, version_file: Path, verdict: str,
                       boxes: list | None, match: str) -> None:
    with database.session() as session:
        version = weld_service.ensure_version(session, version_file, {}, {})
        row = inspect_one(session, tmp_path, version, 1, ("Defect", 0.8))
        with pytest.raises(InputDataError, match=match):
            weld_service.save_review(session, row.id, verdict, NAMES, boxes)


def test_review_of_unknown_inspection(database) -> None:
    with database.session() as session, pytest.raises(InputDataError, match="No weld inspection with id 42"):
        weld_service.save_review(session, 42, "pass", NAMES)
