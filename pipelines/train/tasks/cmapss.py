"""C-MAPSS turbofan RUL windows (FD001–FD004).

Protocol: windows of ``window`` cycles over the 3 operational settings and 21 sensors; the
target is the remaining useful life at the window's last cycle, capped at ``rul_cap`` (125) for
training. Validation engines are a random ``val_fraction`` of each subset's *training engines*
(split by engine, before windowing). The test split is NASA's: the last window of every test
engine, scored against ``RUL_FD00x`` (uncapped there; metrics clip to the cap). Engines shorter
than the window are left-padded with their first cycle. ``anomaly:turbofan`` labels a window
normal while its true RUL is at least the cap (early life).

Validation mimics the test protocol: NASA's test engines are histories cut at a random cycle and
scored on their last window, so each validation engine is cut at random cycles too and only the
last window of each cut is kept — ``val_windows`` (at least 500) per subset, drawn uniformly over
the engine's possible cut points. Scoring every window of a validation engine instead weighs
long, easy early-life stretches and let a model that loses on test win on validation.

Standardisation (fitted on training engines only, :func:`plantpulse.model.moe.regimes.fit_normalizer`):
the number of operating regimes is chosen from the three settings (one for FD001/FD003, six for
FD002/FD004 or when subsets are pooled), sensors are standardised per regime with float64
statistics, and channels constant in every regime (e.g. setting 3 and seven sensors of FD001) are
dropped; their names are kept in the statistics, which travel in the checkpoint
(``plantpulse.model.moe.normalize``), so scoring standardises — and drops — the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plantpulse.data.datasets import load_dataset
from plantpulse.data.datasets.cmapss import SETTING_NAMES, SUBSETS, RunSet
from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.normalize import fit_conditions, output_channels, standardise
from plantpulse.model.moe.regimes import fit_normalizer
from plantpulse.model.moe.training.data import TaskData, TaskSplits
from plantpulse.pipelines.train.tasks.base import TaskBundle
from plantpulse.pipelines.train.tasks.splits import Standardizer, split_groups
from plantpulse.pipelines.train.tasks.windows import WindowView, window_starts

ASSET = "turbofan"
RUL_TASK = TaskSpec(name=f"rul:{ASSET}", kind="rul", rul_cap=125.0)
ANOMALY_TASK = TaskSpec(name=f"anomaly:{ASSET}", kind="anomaly")
MIN_VAL_WINDOWS = 500
LEGACY_CONDITIONS = 6  # what checkpoints made before data-driven regimes were trained with


def run_table(runs: RunSet) -> np.ndarray:
    """(N, 24) settings then sensors, in the loader's row order (by unit, cycle)."""
    return np.concatenate([runs.settings, runs.sensors], axis=1)


def unit_windows(runs: RunSet, window: int, stride: int, last_only: bool = False, min_history: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Window layout over one run set.

    Returns (series (L, 24) with every unit left-padded to at least ``window`` rows,
    starts (N,), unit (N,), cycles_to_end (N,) = last cycle of the unit - window's last cycle).
    ``min_history`` (0: off): the first window of each unit ends at that cycle instead of at cycle
    ``window``, left-padded with the unit's first cycle, as a test engine with a shorter history is.
    """
    table = run_table(runs)
    pieces, starts, units, to_end = [], [], [], []
    offset = 0
    for unit in runs.units:
        rows = np.flatnonzero(runs.unit == unit)
        block = table[rows]
        pad = max(0, window - len(block), window - min_history if min_history else 0)
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


def truncated_last_windows(units: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Rows (of stride-1 windows with unit ids ``units``) that are the last window of a random cut
    of their engine: ``ceil(n / engines)`` distinct cut points per engine (all when it has fewer)."""
    rng = np.random.default_rng(seed)
    engines = np.unique(units)
    per_engine = -(-n // max(len(engines), 1))
    picked = [rng.choice(rows, min(per_engine, len(rows)), replace=False)
              for rows in (np.flatnonzero(units == u) for u in engines)]
    return np.sort(np.concatenate(picked)) if picked else np.empty(0, dtype=np.int64)


def validation_units(runs: RunSet, seed: int, index: int = 0, val_fraction: float = 0.2) -> np.ndarray:
    """The training engines of a bundle's subset number ``index`` that seed ``seed`` holds out for
    validation (split by engine, before windowing)."""
    val_mask, _ = split_groups(runs.units, (val_fraction, 1 - val_fraction), seed + index)
    return runs.units[val_mask]


def validation_cuts(units: np.ndarray, val_units: np.ndarray, n: int, seed: int, index: int = 0) -> np.ndarray:
    """Rows (of stride-1 windows with unit ids ``units``) that are the validation cuts of subset
    number ``index``: the last windows of random cuts of the ``val_units`` engines."""
    in_val = np.flatnonzero(np.isin(units, val_units))
    return in_val[truncated_last_windows(units[in_val], max(n, 1), seed * 7919 + index)]


def build(root: Path | str, *, subsets: tuple[str, ...] = SUBSETS, window: int = 30, stride: int = 1,
          val_fraction: float = 0.2, val_windows: int = MIN_VAL_WINDOWS, seed: int = 0, verify: str = "sizes",
          condition_norm: bool = True, legacy_layout: bool = False, min_history: int = 0, **_: object) -> TaskBundle:
    """C-MAPSS as a :class:`TaskBundle`; groups are ``subset_index * 1000 + engine``.
    ``condition_norm``: standardise per operating regime, chosen from the data, and drop constant
    channels; ``val_windows``: validation cuts per subset (see the module docstring);
    ``min_history``: also train on, and cut validation engines at, histories shorter than the
    window (from that many cycles on, left-padded), as NASA's shortest test engines are (0: off).
    ``legacy_layout``: the data of checkpoints made before this protocol (all 24 channels, six
    fixed operating conditions in float32-era code, every window of the validation engines), so
    those checkpoints are scored on the inputs they were trained for."""
    if isinstance(min_history, bool) or not isinstance(min_history, int) or min_history < 0:
        raise ValueError(f"cmapss option min_history={min_history!r}: expected a whole number of cycles >= 0 "
                         f"(0 = off), e.g. --dataset-option=cmapss.min_history=20")
    data = load_dataset("cmapss", root, verify=verify, subsets=subsets)
    channels = channel_names()
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    train_rows = []
    for index, name in enumerate(subsets):
        subset = data.subsets[name]
        val_units = validation_units(subset.train, seed, index, val_fraction)
        train_rows.append(run_table(subset.train)[~np.isin(subset.train.unit, val_units)])
        series, starts, units, to_end = unit_windows(subset.train, window, stride, min_history=min_history)
        keep = ~np.isin(units, val_units)
        parts["train"].append((series, starts[keep], index * 1000 + units[keep], to_end[keep]))
        v_series, v_starts, v_units, v_to_end = unit_windows(subset.train, window, 1 if not legacy_layout else stride,
                                                             min_history=min_history)
        cut = (np.flatnonzero(np.isin(v_units, val_units)) if legacy_layout
               else validation_cuts(v_units, val_units, val_windows, seed, index))
        parts["val"].append((v_series, v_starts[cut], index * 1000 + v_units[cut], v_to_end[cut]))
        t_series, t_starts, t_units, t_to_end = unit_windows(subset.test, window, 1, last_only=True)
        true_rul = subset.test_rul[t_units - 1].astype(np.float32) + t_to_end
        parts["test"].append((t_series, t_starts, index * 1000 + t_units, true_rul))
    table = np.concatenate(train_rows)
    if legacy_layout:
        stats = fit_conditions(table, channels, SETTING_NAMES, LEGACY_CONDITIONS)
    else:
        stats = (fit_normalizer(table, channels, SETTING_NAMES, seed=seed) if condition_norm
                 else Standardizer.fit(table, channels).to_dict())
    splits = {split: _merge(f"cmapss_{split}", pieces, stats, window, channels, split != "test")
              for split, pieces in parts.items()}
    tasks = {RUL_TASK.name: TaskSplits(splits["train"][0], splits["val"][0], splits["test"][0]),
             ANOMALY_TASK.name: TaskSplits(splits["train"][1], splits["val"][1], splits["test"][1])}
    pretrain = TaskData(name="cmapss_pretrain", task=None, groups=splits["train"][0].groups,
                        sensor=splits["train"][0].sensor, channels=splits["train"][0].channels)
    notes = {"subsets": list(subsets), "window": window, "stride": stride, "rul_cap": RUL_TASK.rul_cap,
             "condition_norm": condition_norm, "regimes": stats.get("regimes", 1),
             "dropped_channels": list(stats.get("dropped", ())), "val_windows": val_windows,
             **({"min_history": min_history} if min_history else {}),
             **{f"{k}_windows": len(v[0]) for k, v in splits.items()}}
    return TaskBundle("cmapss", tasks, (pretrain,), {ASSET: stats}, notes)


def _merge(name: str, pieces: list, stats: dict, window: int,
           channels: tuple[str, ...], cap: bool) -> tuple[TaskData, TaskData]:
    offsets = np.cumsum([0] + [len(p[0]) for p in pieces[:-1]])
    series = standardise(np.concatenate([p[0] for p in pieces]), channels, stats)
    channels = output_channels(channels, stats)
    starts = np.concatenate([p[1] + off for p, off in zip(pieces, offsets, strict=True)])
    groups = np.concatenate([p[2] for p in pieces])
    rul = np.concatenate([p[3] for p in pieces]).astype(np.float32)
    return _task_pair(name, WindowView(series, starts, window), groups, rul, channels, cap)
