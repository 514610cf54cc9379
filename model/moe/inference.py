"""The ``moe`` predictor kind: a ``plantpulse train`` checkpoint (teacher or student) for scoring.

>>> predictor = load_moe("models/plantpulse-teacher-v3.safetensors")
>>> turbofan = predictor.for_asset_type("turbofan")
>>> predictions = turbofan.predict(windows, texts=logs)          # SensorWindow records
>>> predictions = predictor.predict_batch(values, channels, "turbofan")   # raw (B, T, C) arrays

One checkpoint can serve several asset types, each with its own channels and window length
(stored with it), so scoring asks :meth:`MoePredictor.for_asset_type` for a one-type view.
Windows are raw sensor values in the channels' own units; the predictor applies the per-channel
standardisation fitted on the training split (stored in the checkpoint), runs every head trained
for the asset type and returns one :class:`~plantpulse.data.core.records.Prediction` per window.
RUL intervals use the checkpoint's split-conformal calibration when it has one
(:mod:`plantpulse.model.moe.calibration`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from plantpulse.data.core.errors import InputDataError, UnknownNameError
from plantpulse.data.core.records import Prediction, SensorWindow
from plantpulse.model.log_features import LogFeatures
from plantpulse.model.moe.batch import ModelInput
from plantpulse.model.moe.calibration import rul_interval, stored_scale
from plantpulse.model.moe.channels import canonical
from plantpulse.model.moe.checkpoint import CheckpointMeta, load_checkpoint
from plantpulse.model.moe.config import MODALITIES
from plantpulse.model.moe.layers.embeddings import HashingTokenizer
from plantpulse.model.moe.layers.heads import AnomalyOutput, ClassOutput, RULDistribution
from plantpulse.model.moe.network import ModelOutput, PlantPulseModel
from plantpulse.model.moe.normalize import output_channels, standardise
from plantpulse.model.moe.quantize import quantize_for_cpu
from plantpulse.model.predictor import window_values
from plantpulse.model.vibration_features import vibration_feature_names, vibration_features

DEFAULT_WINDOW = 30  # time steps, for checkpoints that do not record their window length


class MoePredictor:
    """A loaded model with its normalisers; build it with :func:`load_moe`.

    ``asset_type`` None: every asset type of the checkpoint (``channels`` is the union of their
    channels); otherwise the one-type view that :meth:`predict` needs.
    """

    accepts_text = True
    log_features: LogFeatures | None = None

    def __init__(self, model: PlantPulseModel, meta: CheckpointMeta, asset_type: str | None = None) -> None:
        self.model = model.eval()
        self.meta = meta
        extra = meta.extra or {}
        self.normalizers: dict[str, dict[str, Any]] = dict(extra.get("normalizers", {}))
        self.window_lengths: dict[str, int] = {k: int(v) for k, v in (extra.get("window_lengths") or {}).items()}
        self.tokenizer = HashingTokenizer.for_config(model.cfg)
        self.name = f"{meta.name} v{meta.version}"
        self.asset_type = asset_type
        self.asset_types = (asset_type,) if asset_type else self.trained_asset_types
        if asset_type is not None:  # scoring fetches the log only for a view that reads it
            self.accepts_text = self.reads_text(asset_type)
            self.log_features = self.log_features_for(asset_type)
        self.window_length = max((self.window_length_for(t) for t in self.asset_types), default=DEFAULT_WINDOW)
        names: list[str] = []
        for t in self.asset_types:
            names += [c for c in self.channels_for(t) if c not in names]
        self.channels = tuple(names)

    # ------------------------------------------------------------------ what it can score
    @property
    def trained_asset_types(self) -> tuple[str, ...]:
        return tuple(sorted({s.asset_type for s in self.model.cfg.tasks if s.asset_type}))

    def window_length_for(self, asset_type: str) -> int:
        """The window length (time steps) ``asset_type`` was trained on."""
        return self.window_lengths.get(asset_type, DEFAULT_WINDOW)

    def channels_for(self, asset_type: str) -> tuple[str, ...]:
        """The channel names ``asset_type`` was trained on (empty when unknown)."""
        return tuple(self.normalizers.get(asset_type, {}).get("channels", ()))

    def sample_rate_hz(self, asset_type: str) -> float | None:
        """The sensors' sampling rate ``asset_type`` was trained with (None: slow process data)."""
        rate = self.normalizers.get(asset_type, {}).get("sample_rate_hz")
        return None if rate is None else float(rate)

    def reads_text(self, asset_type: str) -> bool:
        """Whether ``asset_type``'s head was trained with the maintenance log as text. Checkpoints
        record it (``text_asset_types``); a ``plantpulse fit`` checkpoint without the record was
        trained on windows only; older ``plantpulse train`` checkpoints are given the text as before."""
        extra = self.meta.extra or {}
        if "text_asset_types" in extra:
            return asset_type in extra["text_asset_types"]
        return "label_source" not in extra  # a fit checkpoint from before the record: windows only

    def log_features_for(self, asset_type: str) -> LogFeatures | None:
        """How scoring computes the structured log features ``asset_type``'s head was trained on
        (``plantpulse fit`` records it as ``log_features``); None: it reads none, or they are
        features scoring cannot compute (see :meth:`predict_batch`)."""
        found = ((self.meta.extra or {}).get("log_features") or {}).get(asset_type)
        return None if found is None else LogFeatures.from_dict(found, f"model {self.name}")

    def window_features_for(self, asset_type: str) -> dict[str, Any] | None:
        """How ``asset_type``'s structured features are computed from its own window, when they are
        (the CWRU task option ``structured``: ``kind`` "vibration", the feature ``names`` and their
        training ``mean``/``std``, stored with the normaliser); None otherwise."""
        found = self.normalizers.get(asset_type, {}).get("window_features")
        if found is not None and found.get("kind") != "vibration":
            msg = (f"Model {self.name}: unknown window-feature kind {found.get('kind')!r} for asset type "
                   f"'{asset_type}'; this version computes 'vibration' only. Upgrade PlantPulse.")
            raise InputDataError(msg)
        return found

    def tasks_for(self, asset_type: str) -> tuple[str, ...]:
        names = tuple(s.name for s in self.model.cfg.tasks if s.asset_type == asset_type)
        if not names:
            known = ", ".join(self.trained_asset_types) or "none"
            msg = f"Unknown asset type '{asset_type}'. Available: {known}. Model {self.name} has no heads for it."
            raise UnknownNameError(msg)
        return names

    def for_asset_type(self, asset_type: str) -> MoePredictor:
        if asset_type not in self.trained_asset_types:
            msg = (f"Model {self.name} has no heads for asset type {asset_type!r}. "
                   f"It knows: {list(self.trained_asset_types)}.")
            raise InputDataError(msg)
        return MoePredictor(self.model, self.meta, asset_type)

    # ------------------------------------------------------------------ scoring
    def predict(self, windows: Sequence[SensorWindow], texts: Sequence[str | None] | None = None,
                features: np.ndarray | None = None) -> list[Prediction]:
        """One prediction per window of this view's asset type; ``texts``: log text per window;
        ``features``: the raw log features per window (when ``log_features`` is set)."""
        if not windows:
            return []
        if len(self.asset_types) != 1:
            msg = f"{self.name} serves several asset types; score through for_asset_type(asset_type)."
            raise InputDataError(msg)
        batch = np.stack([window_values(w, self.channels, self.window_length) for w in windows])
        return self.predict_batch(batch.astype(np.float32), self.channels, self.asset_types[0], texts, features)

    @torch.no_grad()
    def predict_batch(self, windows: np.ndarray, channel_names: Sequence[str], asset_type: str,
                      texts: Sequence[str | None] | None = None, features: np.ndarray | None = None
                      ) -> list[Prediction]:
        """Score B raw windows (B, T, C) of one asset type; channels by name, any order or subset;
        ``features`` (B, F) raw log features, required when the head was trained on them."""
        tasks = self.tasks_for(asset_type)
        needs = (self.meta.extra or {}).get("feature_lists", {}).get(asset_type)
        log_features = self.log_features_for(asset_type)
        from_window = self.window_features_for(asset_type)
        if needs and log_features is None and from_window is None:  # never score without what it was trained on
            msg = (f"Model {self.name} was trained with {len(needs)} structured features for asset type "
                   f"'{asset_type}' ({', '.join(needs[:3])}, ...), which scoring from sensor windows does not "
                   f"compute. Score with a model trained without the task option 'structured'.")
            raise InputDataError(msg)
        if len(windows) == 0:
            return []
        if texts is not None and not self.reads_text(asset_type):
            texts = None  # a head trained without the log scores what it was trained on
        inputs = self._inputs(windows, channel_names, asset_type, texts)
        if log_features is not None:
            inputs = self._with_features(inputs, log_features, features)
        elif from_window is not None:
            inputs = self._with_window_features(inputs, channel_names, asset_type, from_window)
        out = self.model(inputs, tasks=tasks)
        experts = out.expert_shares()
        intervals = {name: rul_interval(head.mean.float().numpy(), head.std.float().numpy(),
                                        self.model.cfg.task(name).rul_cap, stored_scale(self.meta.extra, name))
                     for name, head in out.tasks.items() if isinstance(head, RULDistribution)}
        return [self._prediction(out, i, experts, intervals) for i in range(len(windows))]

    def _standardise(self, windows: np.ndarray, channels: Sequence[str], asset_type: str
                     ) -> tuple[np.ndarray, tuple[str, ...]]:
        """Standardised windows and their channels (those constant in training are left out)."""
        stats = self.normalizers.get(asset_type)
        if stats is None:
            return windows, tuple(channels)
        index = {name: i for i, name in enumerate(stats["channels"])}
        unknown = [c for c in output_channels(channels, stats) if c not in index]
        if unknown:
            msg = (f"channel(s) {unknown} were not seen in training for asset type '{asset_type}'. "
                   f"Known channels: {', '.join(stats['channels'])}. Rename or drop them.")
            raise InputDataError(msg)
        # per operating regime when trained so
        return standardise(windows, channels, stats), output_channels(channels, stats)

    def _inputs(self, windows: np.ndarray, channels: Sequence[str], asset_type: str,
                texts: Sequence[str | None] | None) -> ModelInput:
        array = np.asarray(windows, dtype=np.float32)
        if array.ndim != 3 or array.shape[2] != len(channels):
            msg = (f"windows must be (B, T, C) with C = len(channel_names) = {len(channels)}; "
                   f"got shape {array.shape}.")
            raise InputDataError(msg)
        if not np.isfinite(array).all():
            raise InputDataError("windows contain NaN or inf; impute or drop those windows first.")
        b = array.shape[0]
        values, kept = self._standardise(array, channels, asset_type)
        fields = {"sensor": torch.from_numpy(values),
                  "sensor_channels": self.model.channel_ids(list(kept)).expand(b, -1),
                  "sensor_rate_hz": self.sample_rate_hz(asset_type)}
        if texts is not None:
            if len(texts) != b:
                raise InputDataError(f"texts must have one entry per window ({b}); got {len(texts)}.")
            fields |= {**self.tokenizer.inputs([t or "" for t in texts]),
                       "text_present": torch.tensor([bool(t) for t in texts])}
        return ModelInput(**fields)

    def _with_window_features(self, inputs: ModelInput, channel_names: Sequence[str], asset_type: str,
                              spec: dict[str, Any]) -> ModelInput:
        """``inputs`` with the vibration features of its standardised windows, computed on the
        channels in their training order (the feature names follow it) and standardised with the
        training statistics."""
        assert inputs.sensor is not None
        stats = self.normalizers[asset_type]
        kept = [canonical(c) for c in output_channels(channel_names, stats)]
        trained_names = output_channels(self.channels_for(asset_type), stats)
        trained = [canonical(c) for c in trained_names]
        missing = [c for c in trained if c not in kept]
        if missing:
            msg = (f"Model {self.name} computes its structured features from channels {trained} of asset type "
                   f"'{asset_type}'; the windows lack {missing}. Give every trained channel.")
            raise InputDataError(msg)
        values = inputs.sensor.numpy()[:, :, [kept.index(c) for c in trained]]
        names = list(spec["names"])
        if list(vibration_feature_names(trained_names)) != names:
            msg = (f"Model {self.name}: its stored window features for asset type '{asset_type}' do not match "
                   f"this version's vibration features; retrain it with this version.")
            raise InputDataError(msg)
        table = (vibration_features(values).astype(np.float64) - np.asarray(spec["mean"])) / np.asarray(spec["std"])
        b = inputs.batch_size
        return replace(inputs, features=torch.from_numpy(table.astype(np.float32)),
                       feature_ids=self.model.channel_ids(names).expand(b, -1))

    def _with_features(self, inputs: ModelInput, spec: LogFeatures, features: np.ndarray | None) -> ModelInput:
        """``inputs`` with the standardised log features as feature tokens (checked against ``spec``)."""
        b = inputs.batch_size
        values = torch.from_numpy(spec.model_inputs(features, b, self.name))
        return replace(inputs, features=values, feature_ids=self.model.channel_ids(list(spec.names)).expand(b, -1))

    def _prediction(self, out: ModelOutput, i: int, experts: torch.Tensor | None,
                    intervals: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Prediction:
        rul = lower = upper = anomaly = None
        class_probs: dict[str, dict[str, float]] = {}
        for name, head in out.tasks.items():
            spec = self.model.cfg.task(name)
            if name in intervals:  # the 80 % interval, conformally calibrated when the checkpoint says how
                rul, lower, upper = (float(a[i]) for a in intervals[name])
            elif isinstance(head, AnomalyOutput):
                anomaly = float(head.score[i])
            elif isinstance(head, ClassOutput):
                class_probs[name] = dict(zip(spec.classes, head.probs[i].tolist(), strict=True))
        fault = next((v for k, v in class_probs.items() if k.startswith("fault:")),
                     next(iter(class_probs.values()), {}))
        quantiles = None if lower is None or upper is None else {"0.1": lower, "0.9": upper}
        return Prediction(
            rul_mean=rul, rul_lower=lower, rul_upper=upper, rul_quantiles=quantiles,
            fault_probs=dict(fault), class_probs=class_probs, anomaly_score=anomaly,
            modality_shares=dict(zip(MODALITIES, out.modality_shares[i].tolist(), strict=True)),
            expert_shares=tuple(experts[i].tolist()) if experts is not None else ())


def load_moe(path: Path | str, quantize: bool = False) -> MoePredictor:
    """Load a checkpoint written by ``plantpulse train``; ``quantize`` gives int8 CPU scoring."""
    model, meta = load_checkpoint(path)
    if quantize:
        model = quantize_for_cpu(model)
    return MoePredictor(model, meta)


def load_for_scoring(path: Path) -> MoePredictor:
    """The ``moe`` predictor kind's loader: int8 dynamic quantisation on CPU."""
    return load_moe(path, quantize=True)
