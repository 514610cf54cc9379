"""The bundled sample is exactly what `plantpulse datasets sample` produces."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from plantpulse.data.datasets.sample import build_sample

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def test_manifest_matches_files() -> None:
    listed = json.loads((SAMPLE / "MANIFEST.json").read_text())
    assert len(listed) > 20
    for entry in listed:
        data = (SAMPLE / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]


def test_provenance_documents_every_folder() -> None:
    text = (SAMPLE / "PROVENANCE.md").read_text()
    for folder in ("sensors/", "training/", "logs/", "tables/", "vibration/", "weld/"):
        assert folder in text


@pytest.mark.real_data
@pytest.mark.slow
def test_sample_is_reproducible(datasets_dir: Path, tmp_path: Path) -> None:
    build_sample(datasets_dir, tmp_path)
    assert json.loads((tmp_path / "MANIFEST.json").read_text()) == json.loads((SAMPLE / "MANIFEST.json").read_text())
