"""UCI AI4I 2020 predictive maintenance data (Matzka 2020; synthetic, 10,000 rows)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from plantpulse.data.core.errors import DatasetError
from plantpulse.data.datasets.manifest import (
    FileSpec,
    Manifest,
    Verify,
    check_counts,
    dataset_folder,
    verify_files,
)

MANIFEST = Manifest(
    dataset="AI4I 2020",
    folder="ai4i2020",
    files=(FileSpec("ai4i2020.csv", 508149, "9841aaa04b716d41ce9501f42d9388de7f571566608945061d026f95853c0337"),),
)
FEATURES: tuple[str, ...] = (
    "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
    "Tool wear [min]",
)
MODES: tuple[str, ...] = ("TWF", "HDF", "PWF", "OSF", "RNF")
COUNTS = {"rows": 10000, "Machine failure": 339, "TWF": 46, "HDF": 115, "PWF": 95, "OSF": 98, "RNF": 19}


@dataclass(frozen=True, slots=True)
class Ai4iData:
    """udi (N,) int32, product_id/product_type (N,) object, features (N, 5) float32,
    machine_failure (N,) int8, modes (N, 5) int8 in the order of ``mode_names``."""

    udi: np.ndarray
    product_id: np.ndarray
    product_type: np.ndarray
    features: np.ndarray
    machine_failure: np.ndarray
    modes: np.ndarray
    feature_names: tuple[str, ...] = FEATURES
    mode_names: tuple[str, ...] = MODES

    def __len__(self) -> int:
        return int(self.udi.shape[0])


def load(root: Path | str, verify: Verify = "full") -> Ai4iData:
    """Load ``root/ai4i2020/ai4i2020.csv`` (UTF-8 with BOM)."""
    verify_files(root, MANIFEST, verify)
    path = dataset_folder(root, MANIFEST) / "ai4i2020.csv"
    frame = pd.read_csv(path, encoding="utf-8-sig")
    missing = {"UDI", "Product ID", "Type", "Machine failure", *FEATURES, *MODES} - set(frame.columns)
    if missing:
        msg = f"AI4I 2020: {path} lacks column(s) {sorted(missing)}; is this the UCI file?"
        raise DatasetError(msg)
    seen = {"rows": len(frame), "Machine failure": int(frame["Machine failure"].sum())}
    seen |= {mode: int(frame[mode].sum()) for mode in MODES}
    check_counts("AI4I 2020", seen, COUNTS)
    return Ai4iData(
        udi=frame["UDI"].to_numpy(np.int32),
        product_id=frame["Product ID"].to_numpy(object),
        product_type=frame["Type"].to_numpy(object),
        features=frame[list(FEATURES)].to_numpy(np.float32),
        machine_failure=frame["Machine failure"].to_numpy(np.int8),
        modes=frame[list(MODES)].to_numpy(np.int8),
    )
