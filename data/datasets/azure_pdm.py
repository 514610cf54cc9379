"""Microsoft Azure predictive-maintenance sample data (synthetic): telemetry subset + event tables.

The event tables (errors, maintenance, failures, machines) are complete and have no header;
telemetry covers machines 1-20, hourly, 2015-01-01 06:00 to 2015-04-01 05:00.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from plantpulse.data.core.errors import DatasetError
from plantpulse.data.datasets.manifest import (
    FileSpec,
    Manifest,
    Verify,
    check_count,
    check_counts,
    dataset_folder,
    verify_files,
)

CHANNELS: tuple[str, ...] = ("volt", "rotate", "pressure", "vibration")

MANIFEST = Manifest(
    dataset="Azure PdM",
    folder="azure_pdm",
    files=(
        FileSpec("PdM_errors.csv", 117286, "8deaacd748a943ffbd757629b6b14ad0132dfe9abdb3a2333e13a8ef28115816"),
        FileSpec("PdM_failures.csv", 22019, "4e4b8b6a10f8ccd5589bfc7903113fcbe60334b505d65524b099be4f46ac5a01"),
        FileSpec("PdM_machines.csv", 1255, "fe4c7731a12fca66b600331f11b3588b447b0ad15953b5ac148f866ada3b2e24"),
        FileSpec("PdM_maint.csv", 95014, "c32568803f0ded877c7e3dd8981db4e330900b563b15f1747665b1907e20cbda"),
        FileSpec("PdM_telemetry_subset.csv", 3892505, "6d5aeb13d7141cf32944ff0db803c948be830c5ff54b6492625f708e9d18ad44"),
    ),
)

CODE_COUNTS: dict[str, dict[str, int]] = {
    "errors": {"error1": 1010, "error2": 988, "error3": 838, "error4": 727, "error5": 356},
    "failures": {"comp2": 259, "comp1": 192, "comp4": 179, "comp3": 131},
    "maint": {"comp2": 863, "comp4": 811, "comp3": 808, "comp1": 804},
}
MODEL_COUNTS: dict[str, int] = {"model3": 35, "model4": 32, "model2": 17, "model1": 16}
TELEMETRY_MACHINES = 20
TELEMETRY_HOURS = 2160


@dataclass(frozen=True, slots=True)
class Telemetry:
    """Hourly means per machine, rows sorted by (machine, time).

    machine (N,) int32, time (N,) datetime64[s] (naive, the data's own clock), values (N, 4) float32.
    """

    machine: np.ndarray
    time: np.ndarray
    values: np.ndarray
    channels: tuple[str, ...] = CHANNELS


@dataclass(frozen=True, slots=True)
class EventLog:
    """Timestamped events per machine: time (N,) datetime64[s], machine (N,) int32, code (N,) object."""

    time: np.ndarray
    machine: np.ndarray
    code: np.ndarray

    def __len__(self) -> int:
        return int(self.time.shape[0])


@dataclass(frozen=True, slots=True)
class Machines:
    """machine (M,) int32, model (M,) object, age in years (M,) int32."""

    machine: np.ndarray
    model: np.ndarray
    age: np.ndarray


@dataclass(frozen=True, slots=True)
class AzurePdmData:
    telemetry: Telemetry
    errors: EventLog
    maint: EventLog
    failures: EventLog
    machines: Machines


def _events(path: Path, kind: str) -> EventLog:
    frame = pd.read_csv(path, header=None, names=["time", "machine", "code"], dtype={"code": str})
    try:
        times = pd.to_datetime(frame["time"], format="%Y-%m-%d %H:%M:%S")
    except ValueError as err:
        msg = f"Azure PdM: {path} has a timestamp that is not YYYY-MM-DD HH:MM:SS ({err})."
        raise DatasetError(msg) from err
    frame = frame.assign(time=times).sort_values(["machine", "time"], kind="stable")
    counts = Counter(frame["code"])
    check_counts("Azure PdM", {f"{kind} {k}": counts.get(k) for k in CODE_COUNTS[kind]},
                 {f"{kind} {k}": v for k, v in CODE_COUNTS[kind].items()})
    return EventLog(
        time=frame["time"].to_numpy("datetime64[s]"),
        machine=frame["machine"].to_numpy(np.int32),
        code=frame["code"].to_numpy(object),
    )


def _telemetry(path: Path) -> Telemetry:
    frame = pd.read_csv(path, parse_dates=["datetime"])
    missing = {"datetime", "machineID", *CHANNELS} - set(frame.columns)
    if missing:
        msg = f"Azure PdM: {path} lacks column(s) {sorted(missing)}."
        raise DatasetError(msg)
    frame = frame.sort_values(["machineID", "datetime"], kind="stable")
    check_count("Azure PdM", "telemetry machines", int(frame["machineID"].nunique()), TELEMETRY_MACHINES)
    per_machine = frame.groupby("machineID").size()
    check_count("Azure PdM", "telemetry hours per machine", sorted(set(per_machine)), [TELEMETRY_HOURS])
    return Telemetry(
        machine=frame["machineID"].to_numpy(np.int32),
        time=frame["datetime"].to_numpy("datetime64[s]"),
        values=frame[list(CHANNELS)].to_numpy(np.float32),
    )


def _machines(path: Path) -> Machines:
    frame = pd.read_csv(path, header=None, names=["machine", "model", "age"])
    counts = Counter(frame["model"])
    check_counts("Azure PdM", {f"machines {k}": counts.get(k) for k in MODEL_COUNTS},
                 {f"machines {k}": v for k, v in MODEL_COUNTS.items()})
    return Machines(
        machine=frame["machine"].to_numpy(np.int32),
        model=frame["model"].to_numpy(object),
        age=frame["age"].to_numpy(np.int32),
    )


def load(root: Path | str, verify: Verify = "full") -> AzurePdmData:
    """Load the five tables from ``root/azure_pdm``."""
    verify_files(root, MANIFEST, verify)
    folder = dataset_folder(root, MANIFEST)
    return AzurePdmData(
        telemetry=_telemetry(folder / "PdM_telemetry_subset.csv"),
        errors=_events(folder / "PdM_errors.csv", "errors"),
        maint=_events(folder / "PdM_maint.csv", "maint"),
        failures=_events(folder / "PdM_failures.csv", "failures"),
        machines=_machines(folder / "PdM_machines.csv"),
    )
