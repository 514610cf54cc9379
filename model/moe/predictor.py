"""The ``moe`` predictor kind: a ``plantpulse train`` checkpoint (teacher or student) for scoring.

Adapts :class:`plantpulse.model.moe.inference.Predictor` to the scoring protocol. One checkpoint can
serve several asset types, each with its own channels and window length (stored with it), so
scoring asks :meth:`MoePredictor.for_asset_type` for a one-type view. Gaps in a window are
carried forward (then backward); windows shorter than the model's are left-padded with their
first row, as in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import SensorWindow
from plantpulse.model.predictor import ModelPrediction, fill_gaps

DEFAULT_WINDOW = 30


class MoePredictor:
    """All asset types of one checkpoint; see the module docstring."""

    def __init__(self, inner: Any, asset_type: str | None = None) -> None:
        self.inner = inner
        extra = inner.meta.extra or {}
        self.normalizers: dict[str, dict[str, list]] = dict(extra.get("normalizers", {}))
        self.windows: dict[str, int] = {k: int(v) for k, v in (extra.get("window_lengths") or {}).items()}
        self.name = f"{inner.meta.name} v{inner.meta.version}"
        self.asset_types = (asset_type,) if asset_type else tuple(inner.asset_types)
        self.asset_type = asset_type
        self.window_length = max((self.windows.get(t, DEFAULT_WINDOW) for t in self.asset_types), default=DEFAULT_WINDOW)
        names: list[str] = []
        for t in self.asset_types:
            names += [c for c in self.normalizers.get(t, {}).get("channels", []) if c not in names]
        self.channels = tuple(names)

    def for_asset_type(self, asset_type: str) -> MoePredictor:
        if asset_type not in self.inner.asset_types:
            msg = f"Model {self.name} has no heads for asset type {asset_type!r}. It knows: {list(self.inner.asset_types)}."
            raise InputDataError(msg)
        return MoePredictor(self.inner, asset_type)

    def _array(self, window: SensorWindow) -> np.ndarray:
        missing = [c for c in self.channels if c not in window.channels]
        if missing:
            msg = f"Asset {window.asset_name}: window lacks channel(s) {missing} the model was trained on."
            raise InputDataError(msg)
        values = window.values[-self.window_length :, [window.channels.index(c) for c in self.channels]]
        values = fill_gaps(values)
        if len(values) < self.window_length:
            values = np.concatenate([np.repeat(values[:1], self.window_length - len(values), axis=0), values])
        return values.astype(np.float32)

    def predict(self, windows: Sequence[SensorWindow], texts: Sequence[str] | None = None) -> list[ModelPrediction]:
        if not windows:
            return []
        if self.asset_type is None:
            msg = f"{self.name} serves several asset types; score through for_asset_type(asset_type)."
            raise InputDataError(msg)
        batch = np.stack([self._array(w) for w in windows])
        records = self.inner.predict_sensor_windows(batch, self.channels, self.asset_type, texts)
        return [_prediction(r) for r in records]


def _prediction(record: Any) -> ModelPrediction:
    quantiles = None
    if record.rul_lower is not None and record.rul_upper is not None:
        quantiles = {"0.1": record.rul_lower, "0.9": record.rul_upper}  # the 80 % interval
    routing = {"modality_shares": dict(record.modality_shares), "expert_shares": list(record.expert_shares)}
    return ModelPrediction(rul_mean=record.rul_mean, rul_lower=record.rul_lower, rul_upper=record.rul_upper,
                           rul_quantiles=quantiles, fault_probs=dict(record.fault_probs or {}),
                           anomaly_score=record.anomaly_score, routing=routing)


def load(path: Path) -> MoePredictor:
    """Load a ``plantpulse train`` checkpoint for scoring (int8 dynamic quantisation on CPU)."""
    from plantpulse.model.moe.inference import load_predictor

    return MoePredictor(load_predictor(path, quantize=True))
