"""The fit job: database -> windows and labels -> split by asset -> learners -> metrics -> report
-> registered model versions, the best on validation promoted.

The learners: the gradient-boosting baseline, for RUL the Weibull AFT survival model, and the MoE.
The winner is chosen on the validation assets' headline metric; the test assets are only reported,
so the held-out figures stay an unbiased estimate. Model versions are named
``<asset_type>-<target>`` (e.g. ``pump-rul``): every learner is a version of one name, so promoting
one archives the others (champion / challenger). A fit records each finished learner in its out
folder (:mod:`plantpulse.pipelines.fit.state`), so ``resume=True`` continues an interrupted one.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.hashing import sha256_file
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import promote_model_version, register_model_version
from plantpulse.model.baseline.window_weibull import SurvivalFitError
from plantpulse.model.metrics import rmse
from plantpulse.pipelines.fit import learners
from plantpulse.pipelines.fit.data import collect, log_feature_table, rul_unit
from plantpulse.pipelines.fit.learners import FitData, Trained
from plantpulse.pipelines.fit.metrics import (
    HEADLINE,
    anomaly_metrics,
    best_on_validation,
    class_metrics,
    rul_metrics,
)
from plantpulse.pipelines.fit.report import write_report
from plantpulse.pipelines.fit.spec import FitSpec
from plantpulse.pipelines.fit.split import Split, normal_time_split, split_rows
from plantpulse.pipelines.fit.state import FitState, open_state
from plantpulse.pipelines.fit.survival import fit_survival
from plantpulse.pipelines.models.registry import SERVES

Echo = Callable[[str], None]
Progress = Callable[[dict[str, Any]], None]  # receives {"stage": ..., "step": ...} as the fit goes on


def _quiet(_: dict[str, Any]) -> None:
    return None


@dataclass
class FitResult:
    """What a fit produced: held-out metrics per learner, registered versions, the winner."""

    spec: FitSpec
    metrics: dict[str, dict[str, Any]]
    versions: dict[str, str]
    winner: str
    promoted: str | None
    report: Path
    info: dict[str, Any] = field(default_factory=dict)
    version_ids: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    data: FitData
    observed: np.ndarray  # (N,) RUL: end of life known
    duration: np.ndarray  # (N,) RUL: time to end of life or censoring, uncapped, in the unit
    info: dict[str, Any]
    normalizer: dict[str, list[float]]
    all_train: np.ndarray  # (M,) every training row, right-censored ones below the cap included


def _standardise(x: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, dict[str, list[float]]]:
    flat = x[train].reshape(-1, x.shape[2])
    with np.errstate(invalid="ignore"):
        mean, std = np.nanmean(flat, 0), np.nanstd(flat, 0)
    mean, std = np.nan_to_num(mean), np.where(np.isfinite(std) & (std > 1e-8), std, 1.0)
    z = np.nan_to_num((x - mean) / std).astype(np.float32)
    return z, {"mean": mean.tolist(), "std": std.tolist()}


def prepare(spec: FitSpec, db: Database, echo: Echo) -> Prepared:
    """Collect the windows, split them and turn labels into targets the learners fit."""
    with db.session() as session:
        got = collect(session, spec, echo)
    x, groups, ends, raw, observed, texts = got.arrays()
    gap = max(1, spec.window // spec.stride)
    split = split_rows(groups, ends, spec.holdout, gap=gap, seed=spec.seed)
    if spec.target == "anomaly" and split.how == "time":
        split = normal_time_split(ends, raw, gap, split.test_assets[0])
    if min(len(split.train), len(split.val), len(split.test)) == 0:
        raise InputDataError(f"Too few windows to split ({len(x)} in {len(set(groups))} asset(s)): lower "
                             f"'window'/'stride' or add assets.")
    info: dict[str, Any] = {"assets": sorted(set(groups.tolist())), "test_assets": list(split.test_assets),
                            "val_assets": sorted(set(groups[split.val].tolist())),
                            "split": split.how, "windows": len(x), "step_seconds": got.step,
                            "channels": list(got.channels), "skipped": got.skipped,
                            "rows": {"train": len(split.train), "val": len(split.val), "test": len(split.test)}}
    classes: tuple[str, ...] = ()
    cap = 1.0
    all_train = split.train
    duration = np.zeros(len(x))
    if spec.target == "rul":
        unit, unit_s = rul_unit(spec, got.step)
        duration = raw.astype(float) / unit_s
        obs_train = duration[split.train][observed[split.train]]
        if spec.rul_cap is None and not len(obs_train):
            raise InputDataError("No training asset reaches its end of life: check the failure events / rule, or "
                                 "set rul_cap in the spec so censored runs can train.")
        cap = spec.rul_cap or float(max(1.0, np.quantile(obs_train, 0.95)))
        targets = np.minimum(duration, cap)
        all_train = split.train
        split = _trainable(split, observed | (duration >= cap))
        info["censored_train_windows"] = len(all_train) - len(split.train)  # only the survival model fits them
        info |= {"rul_unit": unit, "rul_step": got.step / unit_s, "rul_cap": cap, "censored_assets": sorted(set(groups[~observed].tolist()) -
                                                                           set(groups[observed].tolist()))}
    elif spec.target == "class":
        classes = tuple(sorted(set(raw.tolist())))
        if len(set(raw[split.train].tolist())) < 2:
            raise InputDataError(f"The training assets hold one class only ({classes}); classification needs two or "
                                 f"more. Add labelled assets or check the label source.")
        targets = np.searchsorted(np.array(classes, dtype=object), raw).astype(np.int64)
        info["classes"] = list(classes)
    else:
        targets = raw.astype(bool)
        if not targets[split.train].any():
            raise InputDataError("No normal window in the training assets: widen the normal period.")
    if spec.target == "rul":  # what predicting the training mean would score: the bar every learner must clear
        held = split.test[observed[split.test]]
        if len(held):
            info["constant_rmse"] = rmse(np.full(len(held), targets[split.train].mean()), targets[held])
    z, normalizer = _standardise(x, split.train)
    rate = 1.0 / got.step if spec.snapshots else None
    logged = texts if any(texts[split.train]) else None  # a log the training windows never show is left out
    info["windows_with_log_text"] = int(sum(bool(t) for t in texts))
    info["log_text_read"] = logged is not None
    found = log_feature_table(got.logs, groups, ends, split.train) if spec.log_features else None
    if spec.log_features:
        info["log_features"] = [] if found is None else list(found.spec.names)
    data = FitData(z, groups, targets, got.channels, classes, cap, split.train, split.val, split.test, rate, logged,
                   found)
    return Prepared(data, observed, duration, info, normalizer, all_train)


def _trainable(split: Split, ok: np.ndarray) -> Split:
    """Train/val rows the learners can fit (RUL: known end of life, or censored beyond the cap)."""
    return Split(split.train[ok[split.train]], split.val[ok[split.val]], split.test, split.how, split.test_assets)


def evaluate(spec: FitSpec, prep: Prepared, outs: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, Any]:
    """Metrics of ``outs`` on ``rows`` (the test rows, or the validation rows with their outputs)."""
    d = prep.data
    if spec.target == "rul":
        return rul_metrics(outs, d.targets[rows], prep.observed[rows], prep.duration[rows])
    if spec.target == "class":
        return class_metrics(outs, d.targets[rows], d.classes)
    return anomaly_metrics(outs, d.targets[rows], d.targets[d.val])


def scores(spec: FitSpec, prep: Prepared, trained: Trained) -> dict[str, Any]:
    """Held-out (test) metrics, and the validation ones prefixed ``val_`` (what the winner is chosen on)."""
    val = {k.removeprefix("val_"): v for k, v in trained.outputs.items() if k.startswith("val_")}
    if spec.target == "anomaly":
        val["val_score"] = val["score"]
    on_val = evaluate(spec, prep, val, prep.data.val)
    return {**evaluate(spec, prep, trained.outputs, prep.data.test),
            **{f"val_{k}": v for k, v in on_val.items() if isinstance(v, (int, float, np.floating))},
            "wall_s": trained.wall_s}


def _fingerprint(data: FitData) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(data.x).tobytes())
    digest.update(np.ascontiguousarray(data.targets).astype(np.float64).tobytes())
    for text in data.texts if data.texts is not None else ():
        digest.update(b"\x00" + (text or "").encode())
    if data.log is not None:
        digest.update(np.ascontiguousarray(data.log.values).tobytes())
    return digest.hexdigest()


def run_fit(spec: FitSpec, db: Database, model_dir: Path, out_dir: Path, *, promote: bool = True,
            echo: Echo = print, show_progress: bool = True, resume: bool = False,
            progress: Progress = _quiet) -> FitResult:
    """Fit every learner for ``spec`` and register them (see the module docstring). ``resume``:
    continue the interrupted fit recorded in ``out_dir`` (same spec and data, else a ``ConfigError``).
    ``progress`` hears each stage (reading windows, training each learner, the MoE's epochs,
    evaluating, writing report)."""
    name = model_name(spec)
    progress({"stage": "reading windows", "step": None})
    echo(f"fit {name}: reading windows of asset type {spec.asset_type!r} (label source: {spec.source})")
    prep = prepare(spec, db, echo)
    rows = prep.info["rows"]
    echo(f"split by {prep.info['split']}: {rows['train']} train / {rows['val']} validation / {rows['test']} test "
         f"windows; test assets {', '.join(prep.info['test_assets'])}")
    fingerprint = _fingerprint(prep.data)
    state = open_state(out_dir, spec, fingerprint, time.strftime("%Y%m%d-%H%M%S"), resume)
    extra = {"asset_type": spec.asset_type, "target": spec.target, "channels": list(prep.data.channels),
             "window": spec.window, "step_seconds": prep.info["step_seconds"],
             "classes": list(prep.data.classes), "rul_cap": prep.data.rul_cap, "label_source": spec.source,
             "rul_unit": prep.info.get("rul_unit"),
             # what the "moe" predictor kind reads to score this asset type (model/moe/inference.py)
             "normalizers": {spec.asset_type: {"channels": list(prep.data.channels), **prep.normalizer,
                                               "sample_rate_hz": prep.data.sample_rate_hz}},
             "window_lengths": {spec.asset_type: spec.window},
             "channel_lists": {spec.asset_type: list(prep.data.channels)},
             # the asset types whose network read the maintenance log (scoring gives it to those only)
             "text_asset_types": [spec.asset_type] if prep.data.texts is not None else [],
             "log_text": {"events": spec.log_events, "lookback_days": spec.log_lookback_days},
             # the structured log features every learner reads, and how scoring computes them
             **({"log_features": {spec.asset_type: prep.data.log.spec.to_dict()},
                 "feature_lists": {spec.asset_type: list(prep.data.log.spec.names)}}
                if prep.data.log is not None else {}),
             # what `plantpulse models list` shows and scoring checks: this asset type only
             SERVES: {"asset_types": [spec.asset_type],
                      "channels": {spec.asset_type: list(prep.data.channels)}}}
    trained, notes = _train_all(spec, prep, extra, model_dir / name, state, echo, show_progress, progress)
    progress({"stage": "evaluating", "step": None})
    metrics = {t.kind: scores(spec, prep, t) for t in trained}
    key, _ = HEADLINE[spec.target]
    winner, ranked = best_on_validation(spec.target, metrics)
    if not ranked:
        notes.append(f"no learner has a finite validation {key} (the validation assets cannot rank them); "
                     f"{winner} is kept as the default")
    for kind, values in metrics.items():
        echo(f"{kind}: validation {key} {values.get('val_' + key, math.nan):.4f}, "
             f"held-out {key} {values.get(key, math.nan):.4f}")
    versions, ids, promoted = _register(spec, name, trained, metrics, extra, winner, promote, db, fingerprint)
    state.registered = versions
    state.save()
    for kind, label in versions.items():
        echo(f"registered {label} ({kind})")
    echo(f"promoted {promoted} (best validation {key})" if promoted else f"not promoted; the best is {winner}")
    progress({"stage": "writing report", "step": None})
    report = write_report(out_dir, spec, prep.info, metrics, versions, winner, promoted, trained, prep, notes)
    echo(f"report: {report}")
    return FitResult(spec, metrics, versions, winner, promoted, report, prep.info | {"notes": notes}, ids)


def _learners(spec: FitSpec, prep: Prepared, extra: dict[str, Any], state: FitState, echo: Echo,
              show_progress: bool, progress: Progress) -> list[tuple[str, str, Callable[[Path], Trained]]]:
    """(kind, file label, fit function) of each learner, in the order they train."""
    d = prep.data
    out: list[tuple[str, str, Callable[[Path], Trained]]] = [
        ("gbm", "baseline", lambda p: learners.fit_baseline(spec, d, p, extra))]
    if spec.target == "rul":
        out.append(("weibull", "survival", lambda p: fit_survival(
            spec, d, p, extra, prep.all_train, prep.duration, prep.observed, prep.info["rul_step"])))
    out.append(("moe", "moe", lambda p: learners.fit_moe(
        spec, d, p, extra, echo, show_progress, state.moe_epochs,
        lambda k, n: progress({"stage": "training moe", "step": f"epoch {k} of {n}"}))))
    return out


def _train_all(spec: FitSpec, prep: Prepared, extra: dict[str, Any], stem: Path, state: FitState, echo: Echo,
               show_progress: bool, progress: Progress = _quiet) -> tuple[list[Trained], list[str]]:
    """Train the learners not finished in ``state`` (recording each as it finishes); a survival
    model that cannot converge is left out with a note rather than failing the fit."""
    trained, notes = [], []
    for kind, label, fn in _learners(spec, prep, extra, state, echo, show_progress, progress):
        done = state.finished(kind)
        if done is not None:
            echo(f"{kind}: finished before this resume ({done.path.name}); not retrained")
            trained.append(done)
            continue
        progress({"stage": f"training {label}", "step": None})
        echo(f"training {label} ...")
        start = time.perf_counter()
        try:
            result = fn(stem.with_name(f"{stem.name}-{label}-{state.stamp}.safetensors"))
        except SurvivalFitError as err:
            notes.append(f"{kind} left out: {err}")
            echo(f"training {label}: {notes[-1]}")
            continue
        result.wall_s = round(time.perf_counter() - start, 1)
        state.record(result)
        trained.append(result)
        echo(f"training {label}: done in {result.wall_s} s")
    return trained, notes


def model_name(spec: FitSpec) -> str:
    """The registry name of the versions a fit registers: ``<asset_type>-<target>``."""
    return f"{spec.asset_type}-{spec.target}"


def _register(spec: FitSpec, name: str, trained: list[Trained], metrics: dict[str, dict[str, Any]],
              extra: dict[str, Any], winner: str, promote: bool, db: Database, fingerprint: str
              ) -> tuple[dict[str, str], dict[str, int], str | None]:
    versions: dict[str, str] = {}
    promoted = None
    task = f"{learners.TASK_PREFIX[spec.target]}:{spec.asset_type}"
    with db.session() as session:
        ids: dict[str, int] = {}
        for t in trained:
            row = register_model_version(
                session, name=name, kind=t.kind, path=str(t.path.resolve()), task=task,
                metrics=_jsonable(metrics[t.kind]), config=_jsonable({**extra, "learner": t.kind}),
                data_fingerprint=fingerprint, sha256=sha256_file(t.path))
            ids[t.kind], versions[t.kind] = row.id, f"{row.name} v{row.version}"
        if promote:
            promote_model_version(session, ids[winner])
            promoted = versions[winner]
    return versions, ids, promoted


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
