"""Download the public datasets from pinned public copies and verify every byte.

Sources are the carrier repositories named in each dataset's provenance record, pinned to a
commit, so the bytes are the ones the manifests describe; CWRU files are fetched uncompressed and
gzip-compressed locally (their decompressed sha256 is checked). A file is kept only after it
verifies. ``PLANTPULSE_DATASETS_MIRROR`` replaces ``https://raw.githubusercontent.com`` (an
internal mirror with the same paths, or a test server).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from plantpulse.data.core.errors import DatasetError
from plantpulse.data.datasets.manifest import FileSpec, Manifest, check_file

GITHUB_RAW = "https://raw.githubusercontent.com"
# dataset -> (repository@commit path prefix, how a manifest file name maps to the remote name)
SOURCES: dict[str, tuple[str, dict[str, str] | None]] = {
    "cmapss": ("oluies/tedsds/a5dabc4656bd979070fb64c58d74cabade1384e5/data", None),
    "cwru": ("yyxyz/CaseWesternReserveUniversityData/b19e5a7e9fcd72b1c541f3c12fb42ac3fe94202f", None),
    "azure_pdm": ("Luis-ramirez-r/predictive_maintenance/9b07f48cf8dbb477a9714556bcf6eb8435e4bbf6/data/raw",
                  {"PdM_telemetry_subset.csv": "yambogobrice-design/Maintenance-predictive-equipements-"
                   "lourds-miniers/c75d8c111e8a089de599b840a84134f89956ebc1/data/raw/PdM_telemetry.csv"}),
    "maintnet": ("nd-crane/trusted_ke/135462aee70d38e32e34e5954a5e750c9a1910df/OMIn_dataset/data/MaintNet_data", None),
    "ai4i2020": ("4n0rm4lp3rs0n/dead-machine/124f3934f6b587e40633d93a1f9c1c06dfea1f5b", None),
}
MANUAL = {
    "weld_surface_yolo": (
        "weld_surface_yolo has no direct public link (Kaggle needs a login): download "
        "'sukmaadhiwijaya/welding-defect-object-detection' from Kaggle, or clone "
        "github.com/limescha22/The-Welding-Defect-Dataset at commit 17654ec0, and place the "
        "train/valid/test folders in {folder}. See docs/datasets.md."
    ),
}
TIMEOUT_S = 60


def _url(dataset: str, spec: FileSpec) -> str:
    base = os.environ.get("PLANTPULSE_DATASETS_MIRROR", GITHUB_RAW).rstrip("/")
    prefix, renames = SOURCES[dataset]
    remote = (renames or {}).get(spec.name)
    if remote is None:
        name = spec.name[: -len(".gz")] if dataset == "cwru" else spec.name
        remote = f"{prefix}/{urllib.parse.quote(name)}"
    return f"{base}/{remote}"


def _fetch(url: str, target: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, target.open("wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as err:
        msg = f"Download of {url} failed ({err}). Check the internet connection or set PLANTPULSE_DATASETS_MIRROR."
        raise DatasetError(msg) from err


def _gzip_in_place(path: Path, spec: FileSpec) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != spec.raw_sha256:
        msg = f"{spec.name}: downloaded original has sha256 {digest}, expected {spec.raw_sha256}."
        raise DatasetError(msg)
    packed = path.with_suffix(path.suffix + ".gz")
    with path.open("rb") as src, gzip.GzipFile(packed, "wb", compresslevel=9, mtime=0) as dst:
        shutil.copyfileobj(src, dst)
    return packed


def download_file(dataset: str, spec: FileSpec, folder: Path) -> Path:
    """Fetch one file into ``folder``; it appears there only once it verifies."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
        part = Path(tmp) / (spec.name[:-3] if dataset == "cwru" else spec.name)
        _fetch(_url(dataset, spec), part)
        if dataset == "cwru":
            part = _gzip_in_place(part, spec)
        check_file(part, spec, dataset, "full")
        final = folder / spec.name
        part.replace(final)
    return final


def download(name: str, root: Path) -> str:
    """Download every missing or altered file of dataset ``name`` under ``root``; a summary line."""
    from plantpulse.data.datasets import manifest as manifest_of

    spec: Manifest = manifest_of(name)
    folder = root / spec.folder
    if name in MANUAL:
        return MANUAL[name].format(folder=folder)
    fetched = 0
    for file_spec in spec.files:
        path = folder / file_spec.name
        if path.is_file():
            try:
                check_file(path, file_spec, spec.dataset, "full")
                continue
            except DatasetError:
                pass
        download_file(name, file_spec, folder)
        fetched += 1
    return f"{name}: {fetched} file(s) downloaded, {len(spec.files) - fetched} already present and verified"
