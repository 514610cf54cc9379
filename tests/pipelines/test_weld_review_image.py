"""A review whose inspection points at an image row that is gone is refused with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_weld_service import NAMES, inspect_one

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.store.schema import WeldImage
from plantpulse.pipelines.weld import service as weld_service


def test_review_of_an_inspection_whose_image_is_missing(database, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    checkpoint = tmp_path / "weld.safetensors"
    checkpoint.write_bytes(b"pretend checkpoint")
    with database.session() as session:
        version = weld_service.ensure_version(session, checkpoint, {}, {})
        row = inspect_one(session, tmp_path, version, 1, ("Defect", 0.8))
        found = session.get
        monkeypatch.setattr(session, "get", lambda kind, key: None if kind is WeldImage else found(kind, key))
        with pytest.raises(InputDataError, match=rf"inspection {row.id} refers to image \d+, which is not"):
            weld_service.save_review(session, row.id, "reject", NAMES)
