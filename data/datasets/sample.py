"""Build the small real sample shipped in ``data/sample`` from the full public datasets.

Every file is a verbatim subset of a public dataset (rows or files picked by the rules below),
rewritten only where the demo's connectors need a wide sensor CSV with asset names and UTC
timestamps. ``plantpulse datasets sample --out data/sample`` re-creates it bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from plantpulse.data.datasets import load_dataset
from plantpulse.data.datasets import maintnet as maintnet_module

CMAPSS_EPOCH = pd.Timestamp("2025-01-01T00:00:00Z")  # cycle 1 of every engine; one cycle = 1 hour
TEST_ENGINES = tuple(range(1, 21))  # FD001 test engines shown as the demo fleet
TRAIN_ENGINES = tuple(range(1, 41))  # FD001 training engines the demo baseline learns from
AZURE_MACHINES = tuple(range(1, 21))  # all of the public telemetry subset: a 24 h failure model needs them
MAINTNET_ROWS = 300
AI4I_ROWS = 1000
CWRU_FILES = (97, 105, 118, 130, 169, 185, 197, 209, 222, 234)  # normal + 9 faults at 0 hp
CWRU_SAMPLES = 8192
CWRU_BEARING_SAMPLES = 2048  # the last samples of each recording, as the demo's bearings' vibration
CWRU_EPOCH = pd.Timestamp("2025-01-01T00:00:00Z")  # sample k of a recording at CWRU_EPOCH + k / rate
WELD_EVERY = 5  # every 5th test image of the weld set, in name order


@dataclass(frozen=True, slots=True)
class SampleFile:
    path: str
    rows: int
    sha256: str


def cmapss_asset(unit: int, split: str = "test") -> str:
    return f"turbofan-fd001-{split}-{unit:03d}"


def azure_asset(machine: int) -> str:
    return f"azure-machine-{machine:03d}"


def _cmapss_frame(run, units: tuple[int, ...], split: str) -> pd.DataFrame:
    keep = np.isin(run.unit, units)
    frame = pd.DataFrame(run.settings[keep], columns=list(run.setting_names))
    frame[list(run.sensor_names)] = run.sensors[keep]
    stamps = CMAPSS_EPOCH + pd.to_timedelta(run.cycle[keep] - 1, unit="h")
    frame.insert(0, "timestamp", stamps.strftime("%Y-%m-%dT%H:%M:%SZ"))
    frame.insert(0, "asset", [cmapss_asset(int(u), split) for u in run.unit[keep]])
    frame.insert(2, "cycle", run.cycle[keep])
    return frame


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.6g")


def _copy_lines(src: Path, dst: Path, keep) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    dst.write_text("".join(line for line in lines if keep(line)), encoding="utf-8")


def build_cmapss(root: Path, out: Path) -> None:
    fd001 = load_dataset("cmapss", root, subsets=("FD001",)).subsets["FD001"]
    _write_csv(_cmapss_frame(fd001.test, TEST_ENGINES, "test"), out / "sensors" / "turbofan_fd001_test.csv")
    _write_csv(_cmapss_frame(fd001.train, TRAIN_ENGINES, "train"), out / "training" / "turbofan_fd001_train.csv")
    truth = pd.DataFrame({"asset": [cmapss_asset(u) for u in TEST_ENGINES],
                          "true_rul_cycles": fd001.test_rul[np.asarray(TEST_ENGINES) - 1]})
    _write_csv(truth, out / "training" / "turbofan_fd001_test_rul.csv")


def build_azure(root: Path, out: Path) -> None:
    data = load_dataset("azure_pdm", root)
    tel = data.telemetry
    keep = np.isin(tel.machine, AZURE_MACHINES)
    frame = pd.DataFrame(tel.values[keep], columns=list(tel.channels))
    frame.insert(0, "timestamp", pd.DatetimeIndex(tel.time[keep]).strftime("%Y-%m-%dT%H:%M:%SZ"))
    frame.insert(0, "asset", [azure_asset(int(m)) for m in tel.machine[keep]])
    _write_csv(frame, out / "sensors" / "azure_telemetry.csv")
    folder = root / "azure_pdm"
    machines = {str(m) for m in AZURE_MACHINES}
    for name in ("PdM_errors.csv", "PdM_maint.csv", "PdM_failures.csv"):
        _copy_lines(folder / name, out / "logs" / name, lambda line: line.split(",")[1] in machines)


def build_text_and_tables(root: Path, out: Path) -> None:
    log = maintnet_module.read_logbook(root / "maintnet_aviation" / "Aircraft_Annotation_DataFile.csv")
    _write_csv(log.head(MAINTNET_ROWS), out / "logs" / "maintnet_aviation_sample.csv")
    ai4i = pd.read_csv(root / "ai4i2020" / "ai4i2020.csv", encoding="utf-8-sig")
    failures = ai4i[ai4i["Machine failure"] == 1]
    rest = ai4i[ai4i["Machine failure"] == 0].iloc[: AI4I_ROWS - len(failures)]
    _write_csv(pd.concat([failures, rest]).sort_values("UDI"), out / "tables" / "ai4i2020_sample.csv")


def build_cwru(root: Path, out: Path) -> None:
    data = load_dataset("cwru", root)
    chosen = [r for r in data.recordings if r.file_number in CWRU_FILES]
    arrays = {f"X{r.file_number:03d}_DE": r.de[:CWRU_SAMPLES] for r in chosen}
    labels = {f"X{r.file_number:03d}_DE": r.label for r in chosen}
    (out / "vibration").mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "vibration" / "cwru_de_0hp.npz", **arrays)
    (out / "vibration" / "cwru_de_0hp_labels.json").write_text(json.dumps(labels, indent=1) + "\n")


# the demo's bearings, in the sample and in the OPC-UA replay: the asset type and channel the shipped
# bearing model scores
BEARING_TYPE = "bearing"
BEARING_CHANNEL = "drive_end_accel"


def bearing_asset(file_number: int, label: str) -> str:
    """``cwru-bearing-105-inner-race-0007``: the recording's file number and its fault."""
    return f"cwru-bearing-{file_number:03d}-{label.replace('_', '-').replace('.', '')}"


def build_cwru_bearings(root: Path, out: Path) -> None:
    """The demo's bearings: the last ``CWRU_BEARING_SAMPLES`` drive-end samples of each chosen 0 hp
    recording as a wide sensor CSV (one asset per recording), stamped at the recording's rate."""
    data = load_dataset("cwru", root)
    frames = []
    for rec in sorted((r for r in data.recordings if r.file_number in CWRU_FILES), key=lambda r: r.file_number):
        values = rec.de[-CWRU_BEARING_SAMPLES:]
        offsets = pd.to_timedelta(np.round(np.arange(len(values)) * 1e6 / rec.sample_rate_hz).astype(np.int64),
                                  unit="us")
        frame = pd.DataFrame({"asset": bearing_asset(rec.file_number, rec.label),
                              "timestamp": (CWRU_EPOCH + offsets).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                              BEARING_CHANNEL: values})
        frames.append(frame)
    _write_csv(pd.concat(frames, ignore_index=True), out / "sensors" / "cwru_bearings_de_0hp.csv")


def build_weld(root: Path, out: Path) -> None:
    data = load_dataset("weld_surface_yolo", root)
    chosen = sorted(data.split("test"), key=lambda item: item.image_path.name)[::WELD_EVERY]
    for sub in ("images", "labels"):
        (out / "weld" / sub).mkdir(parents=True, exist_ok=True)
    for item in chosen:
        shutil.copyfile(item.image_path, out / "weld" / "images" / item.image_path.name)
        shutil.copyfile(item.label_path, out / "weld" / "labels" / item.label_path.name)


def build_assets(out: Path) -> None:
    rows = [(cmapss_asset(u), "turbofan", "Hangar 1", "Fleet FD001", "C-MAPSS sim") for u in TEST_ENGINES]
    rows += [(azure_asset(m), "rotating_machine", "Plant 2", "Line A", "") for m in AZURE_MACHINES]
    labels = json.loads((out / "vibration" / "cwru_de_0hp_labels.json").read_text())
    rows += [(bearing_asset(int(key[1:4]), label), BEARING_TYPE, "Test rig", "Drive end, 0 hp", "CWRU test rig")
             for key, label in sorted(labels.items())]
    rows += [("weld-cell-01", "weld_cell", "Plant 2", "Body shop", "")]
    frame = pd.DataFrame(rows, columns=["name", "asset_type", "site", "line", "model"])
    _write_csv(frame, out / "assets.csv")


def manifest(out: Path) -> list[SampleFile]:
    files = []
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name not in {"MANIFEST.json"}):
        if path.suffix in {".md"}:
            continue
        data = path.read_bytes()
        rows = data.count(b"\n") if path.suffix in {".csv", ".txt"} else 0
        files.append(SampleFile(path.relative_to(out).as_posix(), rows, hashlib.sha256(data).hexdigest()))
    return files


def build_sample(root: Path, out: Path) -> list[SampleFile]:
    """Write the whole sample into ``out`` and return its manifest (also saved as MANIFEST.json)."""
    for step in (build_cmapss, build_azure, build_text_and_tables, build_cwru, build_cwru_bearings, build_weld):
        step(root, out)
    build_assets(out)
    files = manifest(out)
    payload = [{"path": f.path, "rows": f.rows, "sha256": f.sha256} for f in files]
    (out / "MANIFEST.json").write_text(json.dumps(payload, indent=1) + "\n")
    return files
