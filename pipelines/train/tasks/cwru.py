"""CWRU bearing fault windows (12 kHz drive end, 10 classes: normal + 3 faults × 3 sizes).

Recordings are split *before* windowing, so no window straddles two splits:
- ``protocol="time"`` (same-load): each recording is cut into contiguous train / val / test
  segments (default 70 / 15 / 15 % of its samples, one window of unused samples between
  segments) and windows are taken inside each segment;
- ``protocol="load"`` (cross-load): whole recordings by motor load — ``test_loads`` for test,
  the rest for training, with the last ``val`` share of each training recording for validation
  (the normal recording, 0 hp only, is cut in time as in "time");
- ``protocol="fault_size"`` (unseen size): whole recordings by fault diameter — faults of
  ``test_size`` go to test (the normal recording is cut in time as in "time").
Channels: drive-end and fan-end accelerometers (the base accelerometer is absent in the normal
recording). Caveat from the PROVENANCE: the normal baseline (file 97, 0 hp only) may have been
sampled at 48 kHz. ``anomaly:bearing`` labels windows of the normal recording as normal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.datasets import load_dataset
from plantpulse.data.datasets.cwru import CwruRecording
from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.training.data import TaskData, TaskSplits
from plantpulse.model.vibration_features import vibration_feature_names, vibration_features
from plantpulse.pipelines.train.tasks.base import TaskBundle
from plantpulse.pipelines.train.tasks.splits import SPLITS, Standardizer
from plantpulse.pipelines.train.tasks.windows import WindowView, chunked, window_starts

ASSET = "bearing"
CHANNELS: tuple[str, ...] = ("drive_end_accel", "fan_end_accel")
CLASSES: tuple[str, ...] = (
    "normal", "inner_race_0.007", "inner_race_0.014", "inner_race_0.021", "ball_0.007", "ball_0.014",
    "ball_0.021", "outer_race_0.007", "outer_race_0.014", "outer_race_0.021",
)
FAULT_TASK = TaskSpec(name=f"fault:{ASSET}", kind="classification", classes=CLASSES)
ANOMALY_TASK = TaskSpec(name=f"anomaly:{ASSET}", kind="anomaly")
PROTOCOLS: tuple[str, ...] = ("time", "load", "fault_size")


def segments(n: int, fractions: tuple[float, float, float], gap: int = 0) -> list[tuple[int, int]]:
    """Contiguous [begin, end) sample ranges for train / val / test of a recording of n samples;
    ``gap`` samples after each cut belong to no split (so no two splits touch)."""
    cuts = np.round(np.cumsum((0.0, *fractions)) * n).astype(int)
    return [(int(cuts[k]) + (gap if k else 0), int(cuts[k + 1])) for k in range(3)]


def recording_segments(rec: CwruRecording, protocol: str, fractions: tuple[float, float, float],
                       test_loads: tuple[int, ...], test_size: float, gap: int = 0) -> dict[str, tuple[int, int]]:
    """Which samples of ``rec`` go to which split (a split may be absent). The normal recording
    exists only at 0 hp, so the load and fault-size protocols cut it in time like "time"."""
    n = len(rec.de)
    if protocol == "time" or (protocol in ("load", "fault_size") and rec.diameter_in is None):
        return dict(zip(SPLITS, segments(n, fractions, gap), strict=True))
    if protocol == "load":
        if rec.load_hp in test_loads:
            return {"test": (0, n)}
    elif protocol == "fault_size":
        if abs(rec.diameter_in - test_size) < 1e-9:
            return {"test": (0, n)}
    else:
        raise InputDataError(f"Unknown CWRU protocol '{protocol}'. Available: {', '.join(PROTOCOLS)}.")
    val_share = fractions[1] / (fractions[0] + fractions[1])
    cut = int(round(n * (1 - val_share)))
    return {"train": (0, cut), "val": (cut + gap, n)}


def _features(views: dict[str, WindowView], channels: tuple[str, ...]
              ) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Each split's :func:`~plantpulse.model.vibration_features.vibration_features`, standardised on
    the training windows, and how scoring recomputes them (stored with the asset's normaliser)."""
    raw = {split: chunked(view, vibration_features) for split, view in views.items()}
    scaler = Standardizer.fit(raw["train"], vibration_feature_names(channels))
    recipe = {"kind": "vibration", "names": list(scaler.channels), "mean": scaler.mean.tolist(),
              "std": scaler.std.tolist()}
    return {split: scaler.apply(table).astype(np.float32) for split, table in raw.items()}, recipe


def build(root: Path | str, *, protocol: str = "time", window: int = 1024, stride: int = 512,
          fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), test_loads: tuple[int, ...] = (3,),
          test_size: float = 0.021, gap: int | None = None, seed: int = 0, verify: str = "sizes",
          channels: tuple[str, ...] | list[str] = CHANNELS, structured: bool = False,
          **_: object) -> TaskBundle:
    """CWRU as a :class:`TaskBundle`; groups are file numbers. Val/test windows do not overlap;
    ``gap`` samples (default: one window) between consecutive segments of a recording are unused.
    ``channels``: the accelerometers to use (e.g. only ``drive_end_accel``, for a plant that
    measures one point per bearing). ``structured``: the gradient-boosting baseline's spectrum,
    envelope and time-domain features of each window (:mod:`plantpulse.model.vibration_features`) also as structured
    feature tokens (``TaskData.features``, standardised on the training windows)."""
    gap = window if gap is None else gap
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown or not channels:
        raise InputDataError(f"cwru.channels {list(channels)}: choose one or more of {list(CHANNELS)}.")
    picked = [CHANNELS.index(c) for c in channels]
    channels = tuple(channels)
    data = load_dataset("cwru", root, verify=verify)
    layout: dict[str, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]] = {
        split: ([], [], []) for split in SPLITS}  # starts, labels, groups
    pieces, offset, train_rows = [], 0, []
    for rec in data.recordings:
        signal = np.stack([rec.de, rec.fe], axis=1)[:, picked]
        pieces.append(signal)
        cuts = recording_segments(rec, protocol, fractions, tuple(test_loads), test_size, gap)
        for split, (begin, end) in cuts.items():
            step = stride if split == "train" else window
            starts = window_starts(begin, end, window, step)
            layout[split][0].append(offset + starts)
            layout[split][1].append(np.full(len(starts), CLASSES.index(rec.label)))
            layout[split][2].append(np.full(len(starts), rec.file_number))
            if split == "train":
                train_rows.append(signal[begin:end])
        offset += len(signal)
    scaler = Standardizer.fit(np.concatenate(train_rows), channels)
    rate = float(data.recordings[0].sample_rate_hz)
    series = scaler.apply(np.concatenate(pieces))
    views = {split: WindowView(series, np.concatenate(starts), window)
             for split, (starts, _, _) in layout.items() if starts}
    features, recipe = _features(views, channels) if structured else ({}, None)
    feature_names = vibration_feature_names(channels) if structured else ()
    made = {}
    for split, (starts, labels, groups) in layout.items():
        if not starts:
            continue
        labels_arr = np.concatenate(labels)
        base = dict(name=f"cwru_{protocol}_{split}", groups=np.concatenate(groups), sensor=views[split],
                    channels=channels, sample_rate_hz=rate, features=features.get(split),
                    feature_names=feature_names)
        made[split] = (TaskData(task=FAULT_TASK, targets=labels_arr, **base),
                       TaskData(task=ANOMALY_TASK, targets=labels_arr == 0, **base))
    test = made.get("test", (None, None))
    tasks = {FAULT_TASK.name: TaskSplits(made["train"][0], made["val"][0], test[0]),
             ANOMALY_TASK.name: TaskSplits(made["train"][1], made["val"][1], test[1])}
    train = made["train"][0]
    pretrain = TaskData(name=f"cwru_{protocol}_pretrain", task=None, groups=train.groups,
                        sensor=train.sensor, channels=channels, sample_rate_hz=rate)
    notes = {"protocol": protocol, "window": window, "stride": stride,
             **({"structured": True} if structured else {}),
             **{f"{k}_windows": len(v[0]) for k, v in made.items()}}
    normalizer = {**scaler.to_dict(), "sample_rate_hz": rate, **({"window_features": recipe} if recipe else {})}
    return TaskBundle("cwru", tasks, (pretrain,), {ASSET: normalizer}, notes)
