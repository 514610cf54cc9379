"""Engineered features for the scikit-learn and lifelines baselines.

Every function maps the *same* model-ready samples the networks see (standardised windows from
``plantpulse.pipelines.train.tasks``) to a 2-D feature table, so baselines and networks differ only in
the model, never in the split or the preprocessing.
"""

from __future__ import annotations

import numpy as np

from plantpulse.data.datasets.ai4i import FEATURES
from plantpulse.model.baseline.quantile_mlp import window_features
from plantpulse.pipelines.train.tasks.ai4i import derived_features


def rul_features(windows: np.ndarray) -> np.ndarray:
    """(N, T, C) -> (N, 4C): last value, mean, standard deviation and slope per channel."""
    return window_features(windows.astype(np.float64)).astype(np.float32)


def tabular(windows: np.ndarray) -> np.ndarray:
    """(N, 1, C) single-row samples -> (N, C)."""
    return np.asarray(windows, dtype=np.float32).reshape(len(windows), -1)


def ai4i_features(table: np.ndarray, channels: tuple[str, ...], mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """AI4I rows (standardised) plus physics features on the original units: power (W) =
    torque · speed · 2π/60, air-process temperature difference, and tool wear × torque (the
    quantities the dataset's failure rules are written in)."""
    raw = table * std + mean
    extra = derived_features(raw[:, [channels.index(name) for name in FEATURES]])
    return np.concatenate([table, extra], axis=1).astype(np.float32)
