"""The images connector: images with YOLO labels, class names, bad images and label lines."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plantpulse.connectors.images.connector import ImageConnector
from plantpulse.connectors.images.labels import label_candidates
from plantpulse.data.core.records import Rejection, WeldImageFile


def png(seed: int, size: tuple[int, int] = (32, 24)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def weld_folder(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "images" / "a.png").write_bytes(png(1))
    (root / "images" / "b.png").write_bytes(png(2))
    (root / "images" / "broken.png").write_bytes(png(3)[:60])
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n2 0.1 0.1 0.05 0.05\n")
    (root / "labels" / "b.txt").write_text("1 0.5 0.5 0.2\n9 0.5 0.5 0.1 0.1\n1 0.2 0.2 0.3 0.4 0.2 0.4\n")
    (root / "labels" / "orphan.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (root / "classes.yaml").write_text("names: ['Bad Weld', 'Good Weld', 'Defect']\n")
    (root / "notes.md").write_text("hello")
    return root


def _split(items: list) -> tuple[dict[str, WeldImageFile], list[Rejection]]:
    return ({i.name: i for i in items if isinstance(i, WeldImageFile)}, [i for i in items if isinstance(i, Rejection)])


def test_folder_with_labels_and_bad_files(tmp_path: Path) -> None:
    connector = ImageConnector()
    images, rejected = _split(list(connector.read(weld_folder(tmp_path / "upload"))))
    assert sorted(images) == ["images/a.png", "images/b.png"]
    a = images["images/a.png"]
    assert (a.width, a.height, a.format, a.label_name) == (32, 24, "png", "labels/a.txt")
    assert [(b.class_id, b.class_name) for b in a.labels] == [(0, "Bad Weld"), (2, "Defect")]
    b = images["images/b.png"]
    assert [(x.class_name, round(x.w, 3), round(x.h, 3)) for x in b.labels] == [("Good Weld", 0.1, 0.2)]
    assert sorted((r.source, r.line, r.code) for r in rejected) == [
        ("images/broken.png", None, "bad_image"), ("labels/b.txt", 1, "bad_label"), ("labels/b.txt", 2, "bad_label")]
    assert connector.contents.unmatched_labels == ["labels/orphan.txt"]
    assert connector.contents.other_files == ["notes.md"]


def test_zip_upload_gives_the_same_images(tmp_path: Path) -> None:
    folder = weld_folder(tmp_path / "upload")
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(folder).as_posix())
    from_zip, _ = _split(list(ImageConnector().read(path)))
    from_folder, _ = _split(list(ImageConnector().read(folder)))
    assert {k: v.sha256 for k, v in from_zip.items()} == {k: v.sha256 for k, v in from_folder.items()}


def test_images_without_labels_have_none(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(png(4))
    [item] = ImageConnector().read(tmp_path)
    assert item.labels is None and item.label_name is None


@pytest.mark.parametrize(
    ("name", "candidates"),
    [("images/a.jpg", ["labels/a.txt", "images/a.txt"]), ("a.jpg", ["a.txt"]),
     ("test/images/x/a.png", ["test/labels/x/a.txt", "test/images/x/a.txt"])],
    ids=["split", "flat", "nested"],
)
def test_label_locations(name: str, candidates: list[str]) -> None:
    assert label_candidates(name) == candidates
