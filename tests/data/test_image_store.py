"""The content-addressed image store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.store.image_store import image_file, relative_path, store_image


def test_store_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    data = b"pixels"
    sha = hashlib.sha256(data).hexdigest()
    relative = store_image(tmp_path, sha, "jpg", data)
    assert relative == f"{sha[:2]}/{sha[2:4]}/{sha}.jpg"
    assert store_image(tmp_path, sha, "jpg", data) == relative
    assert image_file(tmp_path, relative).read_bytes() == data
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [f"{sha}.jpg"]


@pytest.mark.parametrize(("sha", "ext"), [("ab", "jpg"), ("0" * 64, "../x"), ("G" * 64, "png")], ids=["short", "ext", "hex"])
def test_bad_addresses_are_refused(sha: str, ext: str) -> None:
    with pytest.raises(InputDataError, match="Not a sha256/extension pair"):
        relative_path(sha, ext)
