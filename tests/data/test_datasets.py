"""Dataset loaders: real files load with their published counts; bad folders fail clearly."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from plantpulse.data.core.errors import DatasetError, UnknownNameError
from plantpulse.data.datasets import DATASETS, dataset_names, load_dataset, manifest
from plantpulse.data.datasets.manifest import FileSpec, Manifest, check_file, verify_files

ALL = ["ai4i2020", "azure_pdm", "cmapss", "cwru", "maintnet", "weld_surface_yolo"]


def test_every_dataset_is_registered() -> None:
    assert dataset_names() == ALL


def test_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="Unknown dataset 'cmaps'. Available: ai4i2020, azure_pdm"):
        DATASETS.get("cmaps")


def test_missing_root_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist. Set PLANTPULSE_DATASETS"):
        load_dataset("ai4i2020", tmp_path / "nowhere")


def test_missing_dataset_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"AI4I 2020: folder .*ai4i2020 is missing"):
        load_dataset("ai4i2020", tmp_path)


def _tiny_manifest(tmp_path: Path, payload: bytes) -> tuple[Manifest, Path]:
    import hashlib

    folder = tmp_path / "tiny"
    folder.mkdir()
    spec = FileSpec("a.txt", len(payload), hashlib.sha256(payload).hexdigest())
    return Manifest("tiny", "tiny", (spec,)), folder


def test_missing_file_is_named(tmp_path: Path) -> None:
    spec, _ = _tiny_manifest(tmp_path, b"hello\n")
    with pytest.raises(DatasetError, match=r"tiny: 1 file\(s\) missing in .*: a.txt"):
        verify_files(tmp_path, spec)


def test_truncated_file_reports_sizes(tmp_path: Path) -> None:
    spec, folder = _tiny_manifest(tmp_path, b"hello\n")
    (folder / "a.txt").write_bytes(b"hell")
    with pytest.raises(DatasetError, match="has 4 bytes, the published file has 6"):
        verify_files(tmp_path, spec)


def test_altered_file_reports_sha(tmp_path: Path) -> None:
    spec, folder = _tiny_manifest(tmp_path, b"hello\n")
    (folder / "a.txt").write_bytes(b"jello\n")
    with pytest.raises(DatasetError, match="sha256 is .* expected .*altered"):
        verify_files(tmp_path, spec)
    verify_files(tmp_path, spec, level="sizes")  # same size: only hashing can tell


def test_recompressed_gzip_verifies_by_content(tmp_path: Path) -> None:
    import hashlib

    raw = b"1 2 3\n" * 1000
    original = gzip.compress(raw, compresslevel=1, mtime=1)
    other = gzip.compress(raw, compresslevel=9, mtime=0)
    assert original != other
    spec = FileSpec("x.gz", len(original), hashlib.sha256(original).hexdigest(), len(raw),
                    hashlib.sha256(raw).hexdigest())
    path = tmp_path / "x.gz"
    path.write_bytes(other)
    check_file(path, spec, "tiny", "full")
    path.write_bytes(gzip.compress(raw + b"4\n"))
    with pytest.raises(DatasetError):
        check_file(path, spec, "tiny", "full")


def _provenance_files(provenance: Path) -> dict[str, tuple[int, str]]:
    table = provenance.read_text(encoding="utf-8").split("## Files", 1)[1]
    rows = re.findall(r"^\|\s*([^|]+?)\s*\|\s*(\d+)\s*\|\s*([0-9a-f]{64})\s*\|", table, flags=re.M)
    return {name: (int(size), sha) for name, size, sha in rows}


@pytest.mark.real_data
@pytest.mark.parametrize("name", ALL)
def test_manifest_matches_the_provenance_record(name: str, datasets_dir: Path) -> None:
    spec = manifest(name)
    published = _provenance_files(datasets_dir / spec.folder / "PROVENANCE.md")
    ours = {f.name: (f.size, f.sha256) for f in spec.files}
    assert ours.items() <= published.items()
    if name != "weld_surface_yolo":  # weld images are covered by FILES.sha256 instead
        assert set(ours) == set(published) - {"readme.txt"}  # NASA's readme is documentation


@pytest.mark.real_data
@pytest.mark.parametrize("name", ALL)
def test_real_dataset_loads_with_published_counts(name: str, datasets_dir: Path) -> None:
    data = load_dataset(name, datasets_dir)
    assert data is not None


@pytest.mark.real_data
def test_cmapss_shapes(datasets_dir: Path) -> None:
    fd = load_dataset("cmapss", datasets_dir, subsets=("FD004",)).subsets["FD004"]
    assert fd.train.sensors.shape == (61249, 21)
    assert fd.test.settings.shape == (41214, 3)
    assert fd.test_rul.min() == 6 and fd.test_rul.max() == 195
    assert np.all(np.diff(fd.train.unit) >= 0)


@pytest.mark.real_data
def test_cwru_labels(datasets_dir: Path) -> None:
    data = load_dataset("cwru", datasets_dir, verify="sizes")
    labels = {r.label for r in data.recordings}
    assert len(labels) == 10 and "normal" in labels and "outer_race_0.021" in labels
    normal = next(r for r in data.recordings if r.fault == "normal")
    assert normal.ba is None and not normal.sample_rate_verified


@pytest.mark.real_data
def test_weld_groups_augmentation_copies(datasets_dir: Path) -> None:
    data = load_dataset("weld_surface_yolo", datasets_dir, verify="sizes")
    train_sources = {item.source_id for item in data.split("train")}
    assert len(train_sources) == 542


@pytest.mark.real_data
def test_altered_real_file_is_refused(datasets_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(datasets_dir / "ai4i2020", tmp_path / "ai4i2020")
    path = tmp_path / "ai4i2020" / "ai4i2020.csv"
    path.chmod(0o644)
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    assert lines[1].startswith("1,M14860") and lines[1].rstrip().endswith(",0,0,0,0,0,0,0")
    lines[1] = lines[1].rstrip()[: -len("0,0,0,0,0,0")] + "1,0,0,0,0,0\n"  # flag a failure
    path.write_text("".join(lines), encoding="utf-8-sig")
    with pytest.raises(DatasetError, match="sha256 is .* expected 9841aaa0"):
        load_dataset("ai4i2020", tmp_path)
    with pytest.raises(DatasetError, match="Machine failure is 340, the published dataset has 339"):
        load_dataset("ai4i2020", tmp_path, verify="none")
