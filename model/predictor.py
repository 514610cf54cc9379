"""What scoring needs from a model, whatever the model is.

A predictor turns the latest sensor windows of assets (plus, optionally, their recent
maintenance text) into RUL distributions, fault probabilities and anomaly scores. Scoring, the
scheduler and the dashboard only see this protocol; model internals stay in ``model/``.
Predictor kinds are looked up by name in ``PREDICTORS`` (e.g. ``baseline``, ``moe``), each
entry a function that loads a saved model from a path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import Prediction, SensorWindow
from plantpulse.data.core.registry import Registry
from plantpulse.model.log_features import LogFeatures


@runtime_checkable
class Predictor(Protocol):
    """A loaded model that scores sensor windows of one or more asset types.

    ``channels`` are the channel names a window must hold and ``window_length`` the time steps
    it uses (the last ones; shorter windows are left-padded). A model of several asset types is
    scored one type at a time through :meth:`for_asset_type`. ``accepts_text`` says whether
    :meth:`predict` reads ``texts`` (recent maintenance-log text per window; for a one-type view,
    whether that type's head was trained with it); others ignore it. ``log_features`` (a one-type
    view's) says how to compute the structured maintenance-log features :meth:`predict` needs in
    ``features`` (raw, one row per window, columns ``log_features.names``); None: it needs none.
    """

    name: str
    asset_types: tuple[str, ...]
    window_length: int
    channels: tuple[str, ...]
    accepts_text: bool
    log_features: LogFeatures | None

    def for_asset_type(self, asset_type: str) -> Predictor:
        """The predictor restricted to ``asset_type`` (an ``InputDataError`` when it has no heads for it)."""
        ...

    def predict(self, windows: Sequence[SensorWindow], texts: Sequence[str | None] | None = None,
                features: np.ndarray | None = None) -> list[Prediction]:
        """One prediction per window, in order; ``texts`` one log text (or None) per window;
        ``features`` (B, F) the raw log features when ``log_features`` is set."""
        ...


def fill_gaps(values: np.ndarray) -> np.ndarray:
    """(T, C) window with NaN gaps -> last seen value, then the first seen value for leading gaps.

    A channel with no value at all stays NaN (the predictor refuses such a window).
    """
    return pd.DataFrame(values).ffill().bfill().to_numpy(dtype=values.dtype)


def window_values(window: SensorWindow, channels: Sequence[str], length: int) -> np.ndarray:
    """The last ``length`` rows of ``channels`` in ``window`` as (length, C) float64, ready to score.

    Gaps are filled (:func:`fill_gaps`); a window shorter than ``length`` is left-padded with its
    first row, as in training. A channel the window lacks is an ``InputDataError``.
    """
    missing = [c for c in channels if c not in window.channels]
    if missing:
        msg = (f"Asset {window.asset_name}: window lacks channel(s) {missing} the model was trained on. "
               f"Ingest them, or map the asset's channel names to the model's.")
        raise InputDataError(msg)
    values = fill_gaps(window.values[-length:, [window.channels.index(c) for c in channels]])
    if len(values) < length:
        values = np.concatenate([np.repeat(values[:1], length - len(values), axis=0), values])
    return values


PREDICTORS: Registry[Callable[[Path], Predictor]] = Registry("predictor kind")


def load_predictor(kind: str, path: Path) -> Predictor:
    """Load a saved model of ``kind`` (see :func:`predictor_kinds`) from ``path``."""
    _register_builtin()
    return PREDICTORS.get(kind)(path)


def file_metadata(path: Path) -> dict[str, str]:
    """A safetensors file's JSON header metadata (never unpickles, loads no weights).

    A file that is not safetensors is an ``InputDataError``.
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            return dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError) as err:
        msg = f"{path} is not a readable safetensors file ({err}). Export the model with safetensors and retry."
        raise InputDataError(msg) from err


def _inner(meta: dict[str, str]) -> dict:
    try:
        inner = json.loads(meta.get("plantpulse", "{}"))
    except json.JSONDecodeError:
        return {}
    return inner if isinstance(inner, dict) else {}


def kind_from_metadata(path: Path) -> str | None:
    """The predictor kind a safetensors file's own metadata names, or None when it names none."""
    meta = file_metadata(path)
    if meta.get("format") == "plantpulse-moe":  # model/moe/checkpoint.py FORMAT
        return str(meta.get("kind") or "moe")
    if str(_inner(meta).get("format", "")).startswith("plantpulse-baseline-rul/"):  # model/baseline FORMAT
        return "baseline"
    return meta.get("predictor_kind") or None


def metrics_from_metadata(path: Path) -> dict:
    """The metrics a safetensors model file stores about itself ({} when none)."""
    meta = file_metadata(path)
    try:
        found = json.loads(meta["metrics"]) if "metrics" in meta else _inner(meta).get("metrics", {})
    except json.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def predictor_kinds() -> list[str]:
    """Every registered predictor kind (the built-in ones included)."""
    _register_builtin()
    return PREDICTORS.names()


def _register_builtin() -> None:
    """Import the modules that register predictor kinds (kept lazy: they import torch)."""
    if "baseline" not in PREDICTORS:
        from plantpulse.model.baseline import quantile_mlp as baseline

        PREDICTORS.add("baseline", baseline.load)
    if "moe" not in PREDICTORS:
        from plantpulse.model.moe import inference

        PREDICTORS.add("moe", inference.load_for_scoring)
    if "gbm" not in PREDICTORS:
        from plantpulse.model.baseline import window_gbm

        PREDICTORS.add("gbm", window_gbm.load)
    if "weibull" not in PREDICTORS:
        from plantpulse.model.baseline import window_weibull

        PREDICTORS.add("weibull", window_weibull.load)
