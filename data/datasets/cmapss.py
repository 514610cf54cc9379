"""NASA C-MAPSS turbofan run-to-failure data, FD001-FD004 (Saxena et al., PHM08).

Files are the gzip-compressed originals: 26 whitespace-separated numbers per row
(unit, cycle, 3 operational settings, 21 sensors); ``RUL_FD00x`` holds the true remaining
cycles after the last test cycle of each engine.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plantpulse.data.core.errors import DatasetError
from plantpulse.data.datasets.manifest import (
    FileSpec,
    Manifest,
    Verify,
    check_counts,
    dataset_folder,
    verify_files,
    with_raw,
)

SUBSETS: tuple[str, ...] = ("FD001", "FD002", "FD003", "FD004")
SETTING_NAMES: tuple[str, ...] = ("setting_1", "setting_2", "setting_3")
SENSOR_NAMES: tuple[str, ...] = tuple(f"s_{i}" for i in range(1, 22))

RAW: dict[str, tuple[int, str]] = {
    "RUL_FD001.txt.gz": (429, "a19c8ec94931949d0485bdc35118206e9c81c4547b422efb9cf86f4ceddbceca"),
    "RUL_FD002.txt.gz": (1110, "c851dd96a6ea6998d3c4a8f834d3c8013aa90e93a6ed950dc826ad0655b2906b"),
    "RUL_FD003.txt.gz": (428, "df1e0566306b174a2de41c67a3e7a51877889598b78643fc3e5685259091b7cb"),
    "RUL_FD004.txt.gz": (1084, "196b836b85a95ac7fdbbf29c5fdf1657382eafa445644d114ffaaf50dc2975e1"),
    "test_FD001.txt.gz": (2228855, "3cda7109ce17bafb5443f2ac926cfcf88154b941b8c4cf95eb55d1ddd6f52851"),
    "test_FD002.txt.gz": (5734587, "de7b5bf7e998a985c378488480528b7c02cff1406a46740def362dda8d9b4e02"),
    "test_FD003.txt.gz": (2826651, "299babd63c8d987cef079c4a425429f33b3a34797d803bbe2ad48c29dbd0d790"),
    "test_FD004.txt.gz": (6957759, "1dc675fff0624bac10786927c6715b37d1297657137400d2b1a3138d777a3ba5"),
    "train_FD001.txt.gz": (3515356, "963b5e22825b34d8b21c69e1aeb4af3e647050eb672ee8834ba4b5d91d2de0f8"),
    "train_FD002.txt.gz": (9082480, "dac6c4dbc4e7c1bdeb5747da3d313d05c395bb99801b44a002b26a2ba13d788f"),
    "train_FD003.txt.gz": (4213862, "2abbe9968cc5e8eb091980f51b20f62bb4127336d3482cb52071d53bf23329e2"),
    "train_FD004.txt.gz": (10350705, "27ef6160b6a1dcb2613a88de9c239f763b223f02cdc41dc5cdedc5dc189b6218"),
}

MANIFEST = Manifest(
    dataset="C-MAPSS",
    folder="nasa_cmapss",
    files=with_raw((
        FileSpec("RUL_FD001.txt.gz", 209, "831ec48d510ec1c5b542b8a3fcf3388b6c88bf95cc801d37cfd2edb104640017"),
        FileSpec("RUL_FD002.txt.gz", 450, "fb307399996a4f7df62f64bb911895bb85b93a494bb358c508a67f64438120d5"),
        FileSpec("RUL_FD003.txt.gz", 213, "dfc9bfef43e2077e5417a3fce36749213c30ac0c81af8e82e1270f3d203e23b5"),
        FileSpec("RUL_FD004.txt.gz", 438, "a6b71b82a8d8a1dc16c3ecaba53911fc6cd2aee0feef3581a8c32098292fba0e"),
        FileSpec("test_FD001.txt.gz", 510105, "9bc5ed28f8181a62938a025b56baf1f3a83bfa972906301e8220ed6c30b69518"),
        FileSpec("test_FD002.txt.gz", 1582164, "b1c22f4c868b7f44dbbd1449a80996d3ba4f2d9c1819b10efb7f734f5d5e6422"),
        FileSpec("test_FD003.txt.gz", 662493, "1e48323df040fa87cfaa988c48199bc6343e4a35ffdbaa2abdc5f0ea091c5ede"),
        FileSpec("test_FD004.txt.gz", 1941819, "025dc23b0de7841cb2b43c9f5f2d7835c105f4a033d6bee4073c227ce9d2f768"),
        FileSpec("train_FD001.txt.gz", 825027, "d0ce25b14e892e2483809dd000ca1f8d7e318d1c9ac6a8055926f08265ace70a"),
        FileSpec("train_FD002.txt.gz", 2545554, "8fb10cc9412a990ccb336c8bdcb2697f5e8cfd0d30404c40279c5b06d8ce6875"),
        FileSpec("train_FD003.txt.gz", 1009503, "df3b1948a82eb3e0320116323920ba822206357d516bf3362315740bd079e8ea"),
        FileSpec("train_FD004.txt.gz", 2940002, "73f72d44ca87a1b7ae539205a1605483537bc7c4bfa2c0af0b9d4782eabcfc49"),
    ), RAW),
)

# (train rows, test rows, RUL lines, train engines, test engines), from the provenance record.
COUNTS: dict[str, tuple[int, int, int, int, int]] = {
    "FD001": (20631, 13096, 100, 100, 100),
    "FD002": (53759, 33991, 259, 260, 259),
    "FD003": (24720, 16596, 100, 100, 100),
    "FD004": (61249, 41214, 248, 249, 248),
}


@dataclass(frozen=True, slots=True)
class RunSet:
    """All cycles of a set of engines, rows sorted by (unit, cycle).

    unit (N,) int32, cycle (N,) int32, settings (N, 3) float32, sensors (N, 21) float32.
    """

    unit: np.ndarray
    cycle: np.ndarray
    settings: np.ndarray
    sensors: np.ndarray
    sensor_names: tuple[str, ...] = SENSOR_NAMES
    setting_names: tuple[str, ...] = SETTING_NAMES

    @property
    def units(self) -> np.ndarray:
        """Distinct engine numbers, ascending."""
        return np.unique(self.unit)

    def __len__(self) -> int:
        return int(self.unit.shape[0])


@dataclass(frozen=True, slots=True)
class CmapssSubset:
    """One sub-dataset: training engines run to failure, test engines cut short, true test RUL."""

    name: str
    train: RunSet
    test: RunSet
    test_rul: np.ndarray  # (n_test_units,) int32, line i = engine i+1


@dataclass(frozen=True, slots=True)
class CmapssData:
    subsets: dict[str, CmapssSubset]


def _read_table(path: Path) -> np.ndarray:
    with gzip.open(path, "rt", encoding="ascii") as fh:
        try:
            table = np.loadtxt(fh, dtype=np.float64, ndmin=2)
        except ValueError as err:
            msg = f"C-MAPSS: {path} is not a table of numbers ({err}). Replace it with the original."
            raise DatasetError(msg) from err
    if table.shape[1] != 26:
        msg = f"C-MAPSS: {path} has {table.shape[1]} columns, expected 26 (unit, cycle, 3+21)."
        raise DatasetError(msg)
    return table


def _run_set(table: np.ndarray) -> RunSet:
    order = np.lexsort((table[:, 1], table[:, 0]))
    table = table[order]
    return RunSet(
        unit=table[:, 0].astype(np.int32),
        cycle=table[:, 1].astype(np.int32),
        settings=table[:, 2:5].astype(np.float32),
        sensors=table[:, 5:26].astype(np.float32),
    )


def load_subset(folder: Path, name: str) -> CmapssSubset:
    """Parse one sub-dataset from an already verified folder and check its counts."""
    train = _run_set(_read_table(folder / f"train_{name}.txt.gz"))
    test = _run_set(_read_table(folder / f"test_{name}.txt.gz"))
    with gzip.open(folder / f"RUL_{name}.txt.gz", "rt", encoding="ascii") as fh:
        rul = np.loadtxt(fh, dtype=np.int32, ndmin=1)
    n_train, n_test, n_rul, u_train, u_test = COUNTS[name]
    seen = {
        f"{name} train rows": len(train),
        f"{name} test rows": len(test),
        f"{name} RUL lines": int(rul.shape[0]),
        f"{name} train engines": int(train.units.shape[0]),
        f"{name} test engines": int(test.units.shape[0]),
    }
    expected = dict(zip(seen, (n_train, n_test, n_rul, u_train, u_test), strict=True))
    check_counts("C-MAPSS", seen, expected)
    return CmapssSubset(name=name, train=train, test=test, test_rul=rul)


def load(root: Path | str, verify: Verify = "full", subsets: tuple[str, ...] = SUBSETS) -> CmapssData:
    """Load C-MAPSS sub-datasets from ``root/nasa_cmapss``."""
    unknown = sorted(set(subsets) - set(SUBSETS))
    if unknown:
        msg = f"Unknown C-MAPSS subset(s) {unknown}. Available: {', '.join(SUBSETS)}."
        raise DatasetError(msg)
    verify_files(root, MANIFEST, verify)
    folder = dataset_folder(root, MANIFEST)
    return CmapssData(subsets={name: load_subset(folder, name) for name in subsets})
