"""The real data the OPC-UA simulator replays: C-MAPSS engines cycle by cycle, CWRU vibration.

From the full datasets folder when one is configured (any C-MAPSS subset's test engines, all
CWRU 0 hp recordings), else from the small real sample bundled in ``data/sample``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from plantpulse.data.core.errors import DatasetError
from plantpulse.data.core.resources import sample_dir
from plantpulse.data.datasets import load_dataset
from plantpulse.data.datasets.cmapss import SENSOR_NAMES, SETTING_NAMES
from plantpulse.data.datasets.sample import BEARING_CHANNEL, BEARING_TYPE, bearing_asset

CMAPSS_CHANNELS: tuple[str, ...] = ("cycle", *SETTING_NAMES, *SENSOR_NAMES)
CWRU_RATE_HZ = 12_000.0


@dataclass(frozen=True, slots=True)
class ReplayAsset:
    """One asset's series. values (T, C) float64, row t = what the asset reports at step t.

    ``block`` > 0 marks a waveform asset: each step publishes ``block`` samples of its single
    channel as one array (``values`` is then (N, 1), consumed block by block).
    """

    name: str
    asset_type: str
    folder: str
    channels: tuple[str, ...]
    values: np.ndarray
    block: int = 0
    sample_rate_hz: float | None = None

    @property
    def steps(self) -> int:
        return len(self.values) // self.block if self.block else len(self.values)

    def step(self, t: int) -> np.ndarray:
        """(C,) values of step ``t`` (or (block,) samples for a waveform asset)."""
        if self.block:
            return self.values[t * self.block : (t + 1) * self.block, 0]
        return self.values[t]



def cmapss_name(subset: str, unit: int) -> str:
    return f"turbofan-{subset.lower()}-test-{unit:03d}"


def cmapss_from_sample(folder: Path, engines: int | None) -> list[ReplayAsset]:
    path = folder / "sensors" / "turbofan_fd001_test.csv"
    if not path.is_file():
        msg = f"The bundled sample is missing {path}; reinstall PlantPulse or set PLANTPULSE_DATASETS."
        raise DatasetError(msg)
    frame = pd.read_csv(path)
    assets = []
    for name, rows in frame.groupby("asset", sort=True):
        rows = rows.sort_values("cycle")
        assets.append(ReplayAsset(str(name), "turbofan", "FD001", CMAPSS_CHANNELS,
                                  rows[list(CMAPSS_CHANNELS)].to_numpy(np.float64)))
    return assets[:engines] if engines else assets


def cmapss_from_datasets(root: Path, subset: str, engines: int | None) -> list[ReplayAsset]:
    run = load_dataset("cmapss", root, verify="sizes", subsets=(subset,)).subsets[subset].test
    assets = []
    for unit in run.units[:engines] if engines else run.units:
        keep = run.unit == unit
        # float32 in the loader: go through the shortest decimal form so 518.67 stays 518.67
        values = np.column_stack([run.cycle[keep].astype(np.float64), _decimal(run.settings[keep]),
                                  _decimal(run.sensors[keep])])
        assets.append(ReplayAsset(cmapss_name(subset, int(unit)), "turbofan", subset, CMAPSS_CHANNELS, values))
    return assets


def _decimal(values: np.ndarray) -> np.ndarray:
    return values.astype(str).astype(np.float64)


def cwru_assets(root: Path | None, block: int) -> list[ReplayAsset]:
    """One waveform asset per CWRU 0 hp recording (drive-end accelerometer, in g), with the asset type
    and channel of the sample's bearings, so the shipped bearing model scores what the replay streams."""
    if root is not None:
        recordings = [r for r in load_dataset("cwru", root, verify="sizes").recordings if r.load_hp == 0]
        series = {f"X{r.file_number:03d}_DE": (r.label, r.de) for r in recordings}
    else:
        folder = sample_dir() / "vibration"
        labels = json.loads((folder / "cwru_de_0hp_labels.json").read_text())
        with np.load(folder / "cwru_de_0hp.npz") as arrays:
            series = {key: (labels[key], arrays[key]) for key in sorted(arrays.files)}
    return [
        ReplayAsset(bearing_asset(int(key[1:4]), label), BEARING_TYPE, "CWRU",
                    (BEARING_CHANNEL,), np.asarray(values, np.float64).reshape(-1, 1), block, CWRU_RATE_HZ)
        for key, (label, values) in sorted(series.items())
    ]


def load_replay(datasets_dir: Path | None, subset: str = "FD001", engines: int | None = None,
                cwru_block: int = 0, prefix: str = "") -> list[ReplayAsset]:
    """Assets to replay: C-MAPSS test engines (+ CWRU vibration when ``cwru_block`` > 0)."""
    if datasets_dir is not None:
        assets = cmapss_from_datasets(datasets_dir, subset, engines)
    elif subset != "FD001":
        msg = f"C-MAPSS subset {subset} needs the full datasets (PLANTPULSE_DATASETS); the sample has FD001."
        raise DatasetError(msg)
    else:
        assets = cmapss_from_sample(sample_dir(), engines)
    if cwru_block > 0:
        assets += cwru_assets(datasets_dir, cwru_block)
    if prefix:
        assets = [ReplayAsset(prefix + a.name, a.asset_type, a.folder, a.channels, a.values, a.block,
                              a.sample_rate_hz) for a in assets]
    return assets
