"""C-MAPSS turbofan RUL windows (FD001–FD004).

Protocol: windows of ``window`` cycles over the 3 operational settings and 21 sensors; the
target is the remaining useful life at the window's last cycle, capped at ``rul_cap`` (125) for
training. Validation engines are a random ``val_fraction`` of each subset's *training engines*
(split by engine, before windowing). The test split is NASA's: the last window of every test
engine, scored against ``RUL_FD00x`` (uncapped there; metrics clip to the cap). Engines shorter
than the window are left-padded with their first cycle. ``anomaly:turbofan`` labels a window
normal while its true RUL is at least the cap (early life).

Standardisation (fitted on training engines only): the 21 sensors are standardised *per
operating condition* — the training rows' three settings are clustered into the simulator's six
operating points and each cluster gets its own mean/std — because in FD002/FD004 the condition
moves sensor levels far more than degradation does; the settings themselves are standardised
globally. FD001/FD003 run at one condition, so for them this is plain standardisation. The
statistics travel in the checkpoint (``plantpulse.model.moe.normalize``), so scoring standardises
the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plantpulse.data.datasets import load_dataset
from plantpulse.data.datasets.cmapss import SETTING_NAMES, SUBSETS, RunSet
from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.normalize import fit_conditions, standardise
from plantpulse.model.moe.training.data import TaskData, TaskSplits
from plantpulse.pipelines.train.tasks.base import TaskBundle
from plantpulse.pipelines.train.tasks.splits import Standardizer, split_groups
from plantpulse.pipelines.train.tasks.windows import WindowView, window_starts

ASSET = "turbofan"
RUL_TASK = TaskSpec(name=f"rul:{ASSET}", kind="rul", rul_cap=125.0)
ANOMALY_TASK = TaskSpec(name=f"anomaly:{ASSET}", kind="anomaly")
N_CONDITIONS = 6  # the simulator's altitude / Mach / throttle operating points (FD002, FD004)


def run_table(runs: RunSet) -> np.ndarray:
    """(N, 24) settings then sensors, in the loader's row order (by unit, cycle)."""
    return np.concatenate([runs.settings, runs.sensors], axis=1)


def unit_windows(runs: RunSet, window: int, stride: int, last_only: bool = False
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Window layout over one run set.

    Returns (series (L, 24) with every unit left-padded to at least ``window`` rows,
    starts (N,), unit (N,), cycles_to_end (N,) = last cycle of the unit - window's last cycle).
    """
    table = run_table(runs)
    pieces, starts, units, to_end = [], [], [], []
    offset = 0
    for unit in runs.units:
        rows = np.flatnonzero(runs.unit == unit)
        block = table[rows]
        pad = max(0, window - len(block))
        block = np.concatenate([np.repeat(block[:1], pad, axis=0), block])
        local = window_starts(0, len(block), window, stride)
        if last_only:
            local = local[-1:]
        pieces.append(block)
        starts.append(offset + local)
        units.append(np.full(len(local), unit))
        to_end.append(len(block) - (local + window))
        offset += len(block)
    return (np.concatenate(pieces), np.concatenate(starts), np.concatenate(units),
            np.concatenate(to_end).astype(np.float32))


def channel_names() -> tuple[str, ...]:
    from plantpulse.data.datasets.cmapss import SENSOR_NAMES, SETTING_NAMES
    return (*SETTING_NAMES, *SENSOR_NAMES)


def _task_pair(name: str, sensor: WindowView, groups: np.ndarray, rul: np.ndarray,
               channels: tuple[str, ...], cap: bool) -> tuple[TaskData, TaskData]:
    target = np.minimum(rul, RUL_TASK.rul_cap).astype(np.float32) if cap else rul
    base = dict(groups=groups, sensor=sensor, channels=channels)
    return (TaskData(name=name, task=RUL_TASK, targets=target, **base),
            TaskData(name=name, task=ANOMALY_TASK, targets=rul >= RUL_TASK.rul_cap, **base))


def build(root: Path | str, *, subsets: tuple[str, ...] = SUBSETS, window: int = 30, stride: int = 1,
          val_fraction: float = 0.2, seed: int = 0, verify: str = "sizes", condition_norm: bool = True,
          **_: object) -> TaskBundle:
    """C-MAPSS as a :class:`TaskBundle`; groups are ``subset_index * 1000 + engine``.
    ``condition_norm``: standardise sensors per operating condition (see the module docstring)."""
    data = load_dataset("cmapss", root, verify=verify, subsets=subsets)
    channels = channel_names()
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    train_rows = []
    for index, name in enumerate(subsets):
        subset = data.subsets[name]
        val_mask, _ = split_groups(subset.train.units, (val_fraction, 1 - val_fraction), seed + index)
        val_units = subset.train.units[val_mask]
        train_rows.append(run_table(subset.train)[~np.isin(subset.train.unit, val_units)])
        series, starts, units, to_end = unit_windows(subset.train, window, stride)
        t_series, t_starts, t_units, t_to_end = unit_windows(subset.test, window, 1, last_only=True)
        true_rul = subset.test_rul[t_units - 1].astype(np.float32) + t_to_end
        in_val = np.isin(units, val_units)
        for split, keep in (("train", ~in_val), ("val", in_val)):
            parts[split].append((series, starts[keep], index * 1000 + units[keep], to_end[keep]))
        parts["test"].append((t_series, t_starts, index * 1000 + t_units, true_rul))
    table = np.concatenate(train_rows)
    stats = (fit_conditions(table, channels, SETTING_NAMES, N_CONDITIONS) if condition_norm
             else Standardizer.fit(table, channels).to_dict())
    splits = {split: _merge(f"cmapss_{split}", pieces, stats, window, channels, split != "test")
              for split, pieces in parts.items()}
    tasks = {RUL_TASK.name: TaskSplits(splits["train"][0], splits["val"][0], splits["test"][0]),
             ANOMALY_TASK.name: TaskSplits(splits["train"][1], splits["val"][1], splits["test"][1])}
    pretrain = TaskData(name="cmapss_pretrain", task=None, groups=splits["train"][0].groups,
                        sensor=splits["train"][0].sensor, channels=channels)
    notes = {"subsets": list(subsets), "window": window, "stride": stride, "rul_cap": RUL_TASK.rul_cap,
             "condition_norm": condition_norm,
             **{f"{k}_windows": len(v[0]) for k, v in splits.items()}}
    return TaskBundle("cmapss", tasks, (pretrain,), {ASSET: stats}, notes)


def _merge(name: str, pieces: list, stats: dict, window: int,
           channels: tuple[str, ...], cap: bool) -> tuple[TaskData, TaskData]:
    offsets = np.cumsum([0] + [len(p[0]) for p in pieces[:-1]])
    series = standardise(np.concatenate([p[0] for p in pieces]), channels, stats)
    starts = np.concatenate([p[1] + off for p, off in zip(pieces, offsets, strict=True)])
    groups = np.concatenate([p[2] for p in pieces])
    rul = np.concatenate([p[3] for p in pieces]).astype(np.float32)
    return _task_pair(name, WindowView(series, starts, window), groups, rul, channels, cap)
