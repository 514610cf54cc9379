"""Azure PdM: telemetry windows paired with the machine's log text; failure within 24 h.

A sample is one machine at one hour t: the last ``window`` hours of telemetry (volt, rotate,
pressure, vibration), the machine's error and maintenance events of the last ``lookback_days``
as text (e.g. ``"error error3 14h ago. maint comp2 6d ago."``, the phrases scoring also gives
the model: :mod:`plantpulse.pipelines.score.texts`; samples without any event have no
text — the modality is masked, not an empty string), and the label: which of comp1..comp4
fails in ``(t, t + 24 h]`` (multilabel). Failures are not in the text (they coincide with
maintenance rows). Splits are by time: train before ``val_start``, validation until
``test_start``, test after; a sample whose 24 h look-ahead crosses a boundary is dropped.
Time to the next failure (and whether one is observed before the data ends) is kept in
``notes`` arrays for survival analysis.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.datasets import load_dataset
from plantpulse.data.datasets.azure_pdm import CHANNELS, AzurePdmData, EventLog
from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.training.data import TaskData, TaskSplits
from plantpulse.pipelines.score.texts import event_phrase
from plantpulse.pipelines.train.tasks.azure_features import (
    COMPONENTS,
    LOG_FEATURES,
    baseline_features,
    log_features,
    telemetry_feature_names,
)
from plantpulse.pipelines.train.tasks.base import TaskBundle
from plantpulse.pipelines.train.tasks.splits import Standardizer, time_split
from plantpulse.pipelines.train.tasks.windows import WindowView, window_starts

ASSET = "machine"
FAILURE_TASK = TaskSpec(name=f"failure24h:{ASSET}", kind="multilabel", classes=COMPONENTS)
HOUR = np.timedelta64(1, "h")


def _of_machine(log: EventLog, machine: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.flatnonzero(log.machine == machine)
    return log.time[rows], log.code[rows]


def event_text(errors: EventLog, maint: EventLog, machine: int, t: np.datetime64,
               lookback: np.timedelta64) -> str:
    """The machine's errors and maintenance in ``(t - lookback, t]``, oldest first."""
    parts = []
    for kind, log in (("error", errors), ("maint", maint)):
        times, codes = _of_machine(log, machine)
        parts += _texts(kind, times, codes, t, lookback)
    return " ".join(text for _, text in sorted(parts, key=lambda p: p[0]))


def _texts(kind: str, times: np.ndarray, codes: np.ndarray, t: np.datetime64,
           lookback: np.timedelta64) -> list[tuple[np.datetime64, str]]:
    sel = np.flatnonzero((times > t - lookback) & (times <= t))
    return [(times[i], event_phrase(kind, str(codes[i]), int((t - times[i]) / HOUR))) for i in sel]


def failure_labels(failures: EventLog, machine: int, t: np.datetime64, horizon: np.timedelta64) -> np.ndarray:
    """(4,) 1.0 where that component fails in ``(t, t + horizon]``."""
    times, codes = _of_machine(failures, machine)
    return _labels(times, codes, t, horizon)


def _labels(times: np.ndarray, codes: np.ndarray, t: np.datetime64, horizon: np.timedelta64) -> np.ndarray:
    failing = set(codes[(times > t) & (times <= t + horizon)])
    return np.array([c in failing for c in COMPONENTS], dtype=np.float32)


def _samples(data: AzurePdmData, window: int, stride: int, lookback: np.timedelta64,
             horizon: np.timedelta64) -> dict[str, np.ndarray | list]:
    tel = data.telemetry
    out: dict[str, list] = {k: [] for k in ("starts", "machine", "time", "label", "text", "ttf", "event")}
    offset = 0
    data_end = max(data.failures.time.max(), data.maint.time.max(), data.errors.time.max())
    for machine in np.unique(tel.machine):
        rows = np.flatnonzero(tel.machine == machine)
        err, mnt, fail = (_of_machine(log, machine) for log in (data.errors, data.maint, data.failures))
        for start in window_starts(0, len(rows), window, stride):
            t = tel.time[rows[start + window - 1]]
            parts = _texts("error", *err, t, lookback) + _texts("maint", *mnt, t, lookback)
            future = fail[0][fail[0] > t]
            out["starts"].append(offset + start)
            out["machine"].append(machine)
            out["time"].append(t)
            out["label"].append(_labels(*fail, t, horizon))
            out["text"].append(" ".join(text for _, text in sorted(parts, key=lambda p: p[0])))
            out["ttf"].append(((future.min() if future.size else data_end) - t) / HOUR)
            out["event"].append(future.size > 0)
        offset += len(rows)
    return {k: np.asarray(v) if k != "text" else v for k, v in out.items()}


def only(data: TaskData, modalities: tuple[str, ...]) -> TaskData:
    """``data`` restricted to ``modalities`` (single-modality ablations). Without the sensor,
    samples without any event get the text ``"no events."`` so every sample keeps one modality."""
    unknown = sorted(set(modalities) - {"sensor", "text"})
    if unknown or not modalities:
        raise InputDataError(f"Azure PdM modalities must be a non-empty subset of sensor, text; got {list(modalities)}.")
    if "text" not in modalities:
        return data.without_modality("text")
    if "sensor" not in modalities:
        texts = tuple(t or "no events." for t in data.texts)
        return replace(data.without_modality("sensor"), texts=texts, text_present=np.ones(len(texts), bool))
    return data


def _structured(data: AzurePdmData, s: dict, sensor: np.ndarray | WindowView, train: np.ndarray,
                logs: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    """(N, 34) standardised features (telemetry summaries of each window, then the log features;
    (N, 20) without ``logs``) and their names."""
    table = baseline_features(data, sensor, np.asarray(s["machine"]), np.asarray(s["time"]),
                              "sensor+text" if logs else "sensor")
    names = (*telemetry_feature_names(CHANNELS), *(LOG_FEATURES if logs else ()))
    return Standardizer.fit(table[train], names).apply(table).astype(np.float32), names


def build(root: Path | str, *, window: int = 24, stride: int = 3, lookback_days: int = 7,
          val_start: str = "2015-03-01", test_start: str = "2015-03-16", seed: int = 0,
          verify: str = "sizes", modalities: tuple[str, ...] = ("sensor", "text"), log_channels: bool = False,
          structured: bool = False, **_: object) -> TaskBundle:
    """Azure PdM as a :class:`TaskBundle` (time-based split; groups are machine ids).
    ``modalities`` keeps only some inputs (see :func:`only`). ``log_channels``: the maintenance
    history also as structured channels beside the telemetry (error counts by code over 24 h and
    7 d, hours since each component was replaced; standardised on the training samples and held
    constant over the window), the features the gradient-boosting baseline is given.
    ``structured``: the gradient-boosting baseline's features — telemetry summaries of the window
    and the maintenance history — as structured feature tokens (``TaskData.features``, one token
    each, standardised on the training samples) beside the telemetry window and the log text;
    without the text modality only the telemetry summaries (the log features come from the log)."""
    data = load_dataset("azure_pdm", root, verify=verify)
    horizon = np.timedelta64(24, "h")
    s = _samples(data, window, stride, np.timedelta64(lookback_days, "D"), horizon)
    masks = time_split(s["time"], [np.datetime64(val_start), np.datetime64(test_start)], horizon)
    train_end = np.datetime64(val_start)
    scaler = Standardizer.fit(data.telemetry.values[data.telemetry.time < train_end], CHANNELS)
    series = scaler.apply(data.telemetry.values)
    sensor: np.ndarray | WindowView = WindowView(series, np.asarray(s["starts"]), window)
    channels: tuple[str, ...] = CHANNELS
    if log_channels:
        logs = log_features(data, np.asarray(s["machine"]), np.asarray(s["time"]))
        log_scaler = Standardizer.fit(logs[masks[0]], LOG_FEATURES)
        constant = np.repeat(log_scaler.apply(logs)[:, None, :], window, axis=1)
        sensor = np.concatenate([sensor[np.arange(len(logs))], constant], axis=2).astype(np.float32)
        channels = (*CHANNELS, *LOG_FEATURES)
    features: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    if structured:
        # the log features belong to the log: a telemetry-only model gets the summaries alone
        features, feature_names = _structured(data, s, sensor, masks[0], logs="text" in modalities)
    splits = []
    for split, mask in zip(("train", "val", "test"), masks, strict=True):
        rows = np.flatnonzero(mask)
        texts = tuple(s["text"][i] for i in rows)
        splits.append(TaskData(
            features=None if features is None else features[rows], feature_names=feature_names,
            name=f"azure_{split}", task=FAILURE_TASK, groups=s["machine"][rows],
            sensor=sensor[rows] if isinstance(sensor, np.ndarray) else sensor.take(rows), channels=channels,
            texts=texts, text_present=np.array([bool(t) for t in texts]), targets=s["label"][rows],
            info={"time": s["time"][rows], "ttf_hours": s["ttf"][rows], "failure_observed": s["event"][rows]},
        ))
    splits = [only(d, tuple(modalities)) for d in splits]
    train = splits[0]
    notes = {"window_h": window, "modalities": list(modalities), "log_channels": log_channels, "stride_h": stride, "lookback_days": lookback_days,
             **({"structured": True} if structured else {}),
             "val_start": val_start, "test_start": test_start,
             **{f"{d.name}_samples": len(d) for d in splits},
             **{f"{d.name}_positives": int(d.targets.any(1).sum()) for d in splits}}
    pretrain = TaskData(name="azure_pretrain", task=None, groups=train.groups, sensor=train.sensor,
                        channels=train.channels, texts=train.texts, text_present=train.text_present)
    return TaskBundle("azure_pdm", {FAILURE_TASK.name: TaskSplits(*splits)}, (pretrain,),
                      {ASSET: scaler.to_dict()}, notes)
