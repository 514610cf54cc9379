"""What scoring needs from a model, whatever the model is.

A predictor turns the latest sensor windows of assets (plus, optionally, their recent
maintenance text) into RUL distributions, fault probabilities and anomaly scores. Scoring, the
scheduler and the dashboard only see this protocol; model internals stay in ``model/``.
Predictor kinds are looked up by name in ``PREDICTORS`` (e.g. ``baseline``, ``moe``), each
entry a function that loads a saved model from a path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from plantpulse.data.core.records import SensorWindow
from plantpulse.data.core.registry import Registry


@dataclass(frozen=True, slots=True)
class ModelPrediction:
    """One asset window's prediction.

    RUL in the asset's own time unit (cycles, hours) with an 80 % interval
    (``rul_lower``/``rul_upper`` = 10th/90th percentiles) and optional further quantiles
    (``{"0.5": 87.0, ...}``) from which a survival curve can be drawn.
    """

    rul_mean: float | None = None
    rul_lower: float | None = None
    rul_upper: float | None = None
    rul_quantiles: dict[str, float] | None = None
    fault_probs: dict[str, float] = field(default_factory=dict)
    anomaly_score: float | None = None
    routing: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Predictor(Protocol):
    """A loaded model that scores sensor windows of one or more asset types."""

    name: str
    asset_types: tuple[str, ...]
    window_length: int
    channels: tuple[str, ...]

    def predict(self, windows: Sequence[SensorWindow], texts: Sequence[str] | None = None
                ) -> list[ModelPrediction]:
        """One prediction per window, in order; ``texts`` are recent log lines per window."""
        ...


def fill_gaps(values: np.ndarray) -> np.ndarray:
    """(T, C) window with NaN gaps -> last seen value, then the first seen value for leading gaps.

    A channel with no value at all stays NaN (the predictor refuses such a window).
    """
    return pd.DataFrame(values).ffill().bfill().to_numpy(dtype=values.dtype)


PREDICTORS: Registry[Callable[[Path], Predictor]] = Registry("predictor kind")


def load_predictor(kind: str, path: Path) -> Predictor:
    """Load a saved model of ``kind`` (see ``PREDICTORS.names()``) from ``path``."""
    _register_builtin()
    return PREDICTORS.get(kind)(path)


def _register_builtin() -> None:
    """Import the modules that register predictor kinds (kept lazy: they import torch)."""
    if "baseline" not in PREDICTORS:
        from plantpulse.model.baseline import quantile_mlp as baseline

        PREDICTORS.add("baseline", baseline.load)
    if "moe" not in PREDICTORS:
        from plantpulse.model.moe import predictor as moe_predictor

        PREDICTORS.add("moe", moe_predictor.load)
