"""A small, stable inference API for scoring jobs and the dashboard.

>>> predictor = load_predictor("models/plantpulse-teacher-v3.safetensors")
>>> records = predictor.predict_sensor_windows(windows, channel_names, "turbofan")

``windows`` are raw sensor values (B, T, C) in the channels' own units; the predictor applies the
per-channel standardisation fitted on the training split (stored in the checkpoint), runs every
head trained for ``asset_type`` and returns one frozen :class:`PredictionRecord` per window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from plantpulse.data.core.errors import InputDataError, UnknownNameError
from plantpulse.model.moe.batch import ModelInput
from plantpulse.model.moe.checkpoint import CheckpointMeta, load_checkpoint
from plantpulse.model.moe.config import MODALITIES
from plantpulse.model.moe.layers.embeddings import HashingTokenizer
from plantpulse.model.moe.layers.heads import AnomalyOutput, ClassOutput, RULDistribution
from plantpulse.model.moe.network import PlantPulseModel
from plantpulse.model.moe.normalize import output_channels, standardise
from plantpulse.model.moe.quantize import quantize_for_cpu


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One window's predictions. Fields are None when no head of that kind exists for the asset.

    rul_mean / rul_lower / rul_upper: cycles (or the asset's RUL unit); an 80 % central interval.
    fault_probs: class -> probability of the asset's fault/failure head; class_probs: every
    class-type head of the asset, task -> class -> probability; anomaly_score in [0, 1)
    (0.5 = the 95th percentile of normal training windows); modality_shares: modality -> fusion
    weight; expert_shares: fraction of this window's tokens routed to each expert (all layers).
    """

    asset_type: str
    rul_mean: float | None
    rul_lower: float | None
    rul_upper: float | None
    fault_probs: Mapping[str, float] | None
    class_probs: Mapping[str, Mapping[str, float]]
    anomaly_score: float | None
    modality_shares: Mapping[str, float]
    expert_shares: tuple[float, ...]
    model_name: str
    model_version: int


class Predictor:
    """Wraps a loaded model with its normalisers; build it with :func:`load_predictor`."""

    def __init__(self, model: PlantPulseModel, meta: CheckpointMeta) -> None:
        self.model = model.eval()
        self.meta = meta
        self.normalizers: dict[str, dict[str, list]] = dict(meta.extra.get("normalizers", {}))
        self.tokenizer = HashingTokenizer(model.cfg.vocab_size, model.cfg.max_text_len)

    def window_length(self, asset_type: str) -> int | None:
        """The window length (time steps) ``asset_type`` was trained on, if known."""
        return self.meta.extra.get("window_lengths", {}).get(asset_type)

    def channels(self, asset_type: str) -> tuple[str, ...]:
        """The channel names ``asset_type`` was trained on (empty when unknown)."""
        return tuple(self.normalizers.get(asset_type, {}).get("channels", ()))

    @property
    def asset_types(self) -> tuple[str, ...]:
        return tuple(sorted({s.asset_type for s in self.model.cfg.tasks if s.asset_type}))

    def tasks_for(self, asset_type: str) -> tuple[str, ...]:
        names = tuple(s.name for s in self.model.cfg.tasks if s.asset_type == asset_type)
        if not names:
            known = ", ".join(self.asset_types) or "none"
            raise UnknownNameError(f"Unknown asset type '{asset_type}'. Available: {known}.")
        return names

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

    def sample_rate_hz(self, asset_type: str) -> float | None:
        """The sensors' sampling rate ``asset_type`` was trained with (None: slow process data)."""
        rate = self.normalizers.get(asset_type, {}).get("sample_rate_hz")
        return None if rate is None else float(rate)

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
            ids, mask = self.tokenizer.encode([t or "" for t in texts])
            fields |= {"text_ids": ids, "text_mask": mask,
                       "text_present": torch.tensor([bool(t) for t in texts])}
        return ModelInput(**fields)

    @torch.no_grad()
    def predict_sensor_windows(self, windows: np.ndarray, channel_names: Sequence[str],
                               asset_type: str, texts: Sequence[str | None] | None = None
                               ) -> list[PredictionRecord]:
        """Score B windows (B, T, C) float32 of one asset type; see :class:`PredictionRecord`."""
        tasks = self.tasks_for(asset_type)
        if len(windows) == 0:
            return []
        out = self.model(self._inputs(windows, channel_names, asset_type, texts), tasks=tasks)
        experts = out.expert_shares()
        return [self._record(out, i, asset_type, experts) for i in range(len(windows))]

    def _record(self, out, i: int, asset_type: str, experts: torch.Tensor | None) -> PredictionRecord:
        rul = lower = upper = anomaly = None
        class_probs: dict[str, dict[str, float]] = {}
        for name, head in out.tasks.items():
            spec = self.model.cfg.task(name)
            if isinstance(head, RULDistribution):
                lo, hi = head.interval(0.8)
                rul = float(head.mean[i].clamp(0, spec.rul_cap))
                lower = min(float(lo[i]), rul)
                upper = max(min(float(hi[i]), spec.rul_cap), rul)
            elif isinstance(head, AnomalyOutput):
                anomaly = float(head.score[i])
            elif isinstance(head, ClassOutput):
                class_probs[name] = dict(zip(spec.classes, head.probs[i].tolist(), strict=True))
        fault = next((v for k, v in class_probs.items() if k.startswith("fault:")),
                     next(iter(class_probs.values()), None))
        shares = dict(zip(MODALITIES, out.modality_shares[i].tolist(), strict=True))
        expert = tuple(experts[i].tolist()) if experts is not None else ()
        return PredictionRecord(asset_type, rul, lower, upper, fault, class_probs, anomaly, shares,
                                expert, self.meta.name, self.meta.version)


def load_predictor(path: Path | str, quantize: bool = False) -> Predictor:
    """Load a checkpoint written by ``plantpulse train``; ``quantize`` gives int8 CPU scoring."""
    model, meta = load_checkpoint(path)
    if quantize:
        model = quantize_for_cpu(model)
    return Predictor(model, meta)
