"""The typed input of the network: any subset of modalities per sample, with masks.

A modality that a sample lacks is *masked* (its ``*_present`` flag is False), never zero-filled:
its tokens are excluded from attention, from expert routing and from fusion. A modality absent
from the whole batch is simply ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from plantpulse.data.core.errors import InputDataError
from plantpulse.model.moe.config import MODALITIES


@dataclass(frozen=True, slots=True)
class ModelInput:
    """One batch of B samples.

    sensor: (B, T, C) float, standardised values; ``sensor_channels`` (B, C) int64 hashed channel
    names (see :func:`plantpulse.model.moe.layers.embeddings.channel_ids`); ``sensor_channel_mask`` (B, C) bool,
    False for channels a sample does not have.
    image: (B, 3, H, W) float in 0..1. text_ids / text_mask: (B, L) int64 / bool and, for models
    with sub-words, text_subwords (B, L, K) int64, from
    :class:`plantpulse.model.moe.layers.embeddings.HashingTokenizer`.
    ``*_present`` (B,) bool says which samples carry the modality (default: all of them).
    ``sensor_rate_hz``: the sensors' sampling rate, one value for the batch (None: slow process
    data); it chooses the sensor embedding (spectral tokens for waveforms).
    features (B, F) float, standardised structured features (a row of measurements, summary
    statistics, hours since maintenance, event counts) with ``feature_ids`` (B, F) int64 from the
    same channel index as the sensors: one token each, in the sensor slot (numeric data shares
    the sensor modality's experts and summary), so a sample with only features still has that
    modality; see :class:`plantpulse.model.moe.layers.embeddings.FeatureEmbedding`.
    """

    sensor: Tensor | None = None
    sensor_channels: Tensor | None = None
    sensor_channel_mask: Tensor | None = None
    sensor_present: Tensor | None = None
    image: Tensor | None = None
    image_present: Tensor | None = None
    text_ids: Tensor | None = None
    text_mask: Tensor | None = None
    text_present: Tensor | None = None
    text_subwords: Tensor | None = None
    sensor_rate_hz: float | None = None
    features: Tensor | None = None
    feature_ids: Tensor | None = None

    @property
    def batch_size(self) -> int:
        for value in (self.sensor, self.features, self.image, self.text_ids):
            if value is not None:
                return int(value.shape[0])
        return 0

    @property
    def modalities(self) -> tuple[str, ...]:
        """The modalities present in this batch (for at least one sample), in canonical order."""
        values = {"sensor": self._numeric, "image": self.image, "text": self.text_ids}
        return tuple(m for m in MODALITIES if values[m] is not None)

    def present(self, modality: str) -> Tensor:
        """(B,) bool: which samples carry ``modality`` (all False when it is absent)."""
        data = {"sensor": self._numeric, "image": self.image, "text": self.text_ids}[modality]
        flag = {"sensor": self.sensor_present, "image": self.image_present,
                "text": self.text_present}[modality]
        device = self._device()
        if data is None:
            return torch.zeros(self.batch_size, dtype=torch.bool, device=device)
        if flag is None:
            return torch.ones(self.batch_size, dtype=torch.bool, device=device)
        return flag.to(torch.bool)

    @property
    def _numeric(self) -> Tensor | None:
        """What fills the sensor slot: the window, else the structured features."""
        return self.sensor if self.sensor is not None else self.features

    def _device(self) -> torch.device:
        for value in (self.sensor, self.features, self.image, self.text_ids):
            if value is not None:
                return value.device
        return torch.device("cpu")

    def to(self, device: torch.device | str) -> ModelInput:
        moved = {
            name: (getattr(self, name).to(device) if isinstance(getattr(self, name), Tensor)
                   else getattr(self, name))
            for name in self.__dataclass_fields__
        }
        return ModelInput(**moved)

    def with_image(self, image: Tensor | None) -> ModelInput:
        return replace(self, image=image)

    def validate(self) -> ModelInput:
        """Check shapes and dtypes once at the model boundary; raise :class:`InputDataError`."""
        if not self.modalities:
            raise InputDataError("ModelInput has no modality: give sensor, features, image or text_ids.")
        b = self.batch_size
        _check(self.sensor, "sensor", 3, b, floating=True)
        _check(self.features, "features", 2, b, floating=True)
        if self.features is not None:
            f = self.features.shape[1]
            if self.feature_ids is None or tuple(self.feature_ids.shape) != (b, f):
                seen = None if self.feature_ids is None else tuple(self.feature_ids.shape)
                raise InputDataError(f"feature_ids must have shape (B, F) = ({b}, {f}); got {seen}.")
        _check(self.image, "image", 4, b, floating=True)
        _check(self.text_ids, "text_ids", 2, b, floating=False)
        if self.sensor is not None:
            c = self.sensor.shape[2]
            if self.sensor_channels is None or tuple(self.sensor_channels.shape) != (b, c):
                seen = None if self.sensor_channels is None else tuple(self.sensor_channels.shape)
                msg = f"sensor_channels must have shape (B, C) = ({b}, {c}); got {seen}."
                raise InputDataError(msg)
        if self.sensor_rate_hz is not None and not self.sensor_rate_hz > 0:
            raise InputDataError(f"sensor_rate_hz must be a positive rate in Hz; got {self.sensor_rate_hz}.")
        if self.text_ids is not None and (
            self.text_mask is None or self.text_mask.shape != self.text_ids.shape
        ):
            raise InputDataError("text_mask must be given with the same shape as text_ids.")
        if self.text_subwords is not None and (
            self.text_ids is None or self.text_subwords.ndim != 3
            or self.text_subwords.shape[:2] != self.text_ids.shape
        ):
            raise InputDataError("text_subwords must be (B, L, K) with (B, L) the shape of text_ids.")
        for modality in self.modalities:
            flag = getattr(self, f"{modality}_present")
            if flag is not None and tuple(flag.shape) != (b,):
                msg = f"{modality}_present must have shape ({b},); got {tuple(flag.shape)}."
                raise InputDataError(msg)
        present = torch.stack([self.present(m) for m in MODALITIES]).any(0)
        if not bool(present.all()):
            rows = torch.nonzero(~present).flatten().tolist()[:5]
            msg = f"samples {rows} carry no modality at all; drop them or give at least one modality."
            raise InputDataError(msg)
        return self


def _check(value: Tensor | None, name: str, ndim: int, batch: int, floating: bool) -> None:
    if value is None:
        return
    if value.ndim != ndim or value.shape[0] != batch:
        msg = f"{name} must be a {ndim}-d tensor with batch size {batch}; got shape {tuple(value.shape)}."
        raise InputDataError(msg)
    if floating and not value.is_floating_point():
        raise InputDataError(f"{name} must be floating point; got {value.dtype}.")
    if floating and not bool(torch.isfinite(value).all()):
        msg = f"{name} contains NaN or inf; impute or mask those values before scoring."
        raise InputDataError(msg)
    if not floating and value.dtype != torch.int64:
        raise InputDataError(f"{name} must be int64 token ids; got {value.dtype}.")
