"""Image uploads with things that are not images: FIFOs, symbolic links, two zip members with
one name. Nothing blocks, nothing is dropped silently: skipped files are reported."""

from __future__ import annotations

import io
import os
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from plantpulse.connectors.images.archive import ArchiveLimits, open_upload
from plantpulse.connectors.images.connector import ImageConnector
from plantpulse.data.core.errors import UploadRejectedError
from plantpulse.data.core.records import Rejection, WeldImageFile
from plantpulse.data.store.db import Database
from plantpulse.pipelines.ingest.entry import ingest_image_upload


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def fifo_writer() -> Iterator[Callable[[Path], None]]:
    """Opens and closes a FIFO for writing whenever a reader waits on it, so a reader that opens
    the FIFO gets end-of-file instead of blocking: a regression fails instead of hanging."""
    stop = threading.Event()
    started: list[tuple[threading.Thread, Path]] = []

    def serve(path: Path) -> None:
        def loop() -> None:
            while not stop.is_set():
                os.close(os.open(path, os.O_WRONLY))  # returns once a reader has opened the FIFO

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        started.append((thread, path))

    yield serve
    stop.set()
    for thread, path in started:
        while thread.is_alive():
            reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer's open return
            thread.join(1.0)
            os.close(reader)


@pytest.fixture
def folder(tmp_path: Path, fifo_writer: Callable[[Path], None]) -> Path:
    root = tmp_path / "weld"
    (root / "images").mkdir(parents=True)
    (root / "images" / "a.png").write_bytes(_png())
    os.mkfifo(root / "images" / "pipe.png")
    fifo_writer(root / "images" / "pipe.png")
    (root / "images" / "link.png").symlink_to(root / "images" / "a.png")
    (root / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    return root


SKIPPED = {"elsewhere": "symbolic link", "images/link.png": "symbolic link", "images/pipe.png": "FIFO"}


def test_a_folder_lists_only_regular_files_and_reports_the_rest(folder: Path) -> None:
    with open_upload(folder, "weld", ArchiveLimits()) as listing:
        assert [e.name for e in listing] == ["images/a.png"]
        assert {name: why for name, why in listing.skipped}.keys() == SKIPPED.keys()
        assert all(SKIPPED[name] in why for name, why in listing.skipped)


def test_the_connector_reports_skipped_files_as_rejections(folder: Path) -> None:
    items = list(ImageConnector().read(folder))
    assert [i.name for i in items if isinstance(i, WeldImageFile)] == ["images/a.png"]
    assert {(r.source, r.code) for r in items if isinstance(r, Rejection)} == {(n, "skipped_file") for n in SKIPPED}


def test_ingest_of_a_folder_with_a_fifo_finishes_and_reports_it(folder: Path, tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.upgrade()
    result = ingest_image_upload(db, folder, image_store=tmp_path / "store")
    db.dispose()
    assert (result.loaded, result.quarantined, result.summary["quarantine_reasons"]) == (1, 3, {"skipped_file": 3})


def test_two_zip_members_with_one_name_refuse_the_upload(tmp_path: Path) -> None:
    path = tmp_path / "twice.zip"
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it is told to write
        archive.writestr("images/a.png", _png())
        archive.writestr("images/a.png", b"another file")
    with pytest.raises(UploadRejectedError, match="'images/a.png' appears twice"), \
            open_upload(path, "twice.zip", ArchiveLimits()):
        pass
