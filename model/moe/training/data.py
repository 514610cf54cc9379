"""Model-ready samples: :class:`TaskData` (one split of one task) and batching into ModelInput.

The data pipelines (``plantpulse.pipelines.train.tasks``) build these from the public datasets; the
training stages only read them. Arrays are numpy (``sensor`` may also be a lazy window view with
``shape``, ``__len__``, ``__getitem__(rows)`` and ``take(rows)``), one row per sample:
sensor (N, T, C) float32 standardised; images (N, 3, H, W) uint8; texts N strings with
``text_present`` (N,) bool; features (N, F) float32 standardised structured features named by
``feature_names`` (one token each, in the sensor slot); targets (N,) or (N, K); groups (N,) the unit/asset/recording/source id
each sample came from (splits are made on groups, never on windows).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from plantpulse.data.core.errors import InputDataError
from plantpulse.model.moe.batch import ModelInput
from plantpulse.model.moe.channels import ChannelIndex
from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.layers.embeddings import HashingTokenizer, channel_ids


@dataclass(frozen=True)
class TaskData:
    """One split of one dataset/task. ``task`` is None for pre-training-only data."""

    name: str
    task: TaskSpec | None
    groups: np.ndarray
    sensor: np.ndarray | None = None
    channels: tuple[str, ...] = ()
    images: np.ndarray | None = None
    texts: tuple[str, ...] | None = None
    text_present: np.ndarray | None = None
    targets: np.ndarray | None = None
    info: dict[str, object] = field(default_factory=dict)
    sample_rate_hz: float | None = None  # the sensors' rate; None for slow process data
    features: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.groups)
        for label, value in (("sensor", self.sensor), ("images", self.images),
                             ("targets", self.targets), ("text_present", self.text_present),
                             ("features", self.features)):
            if value is not None and len(value) != n:
                msg = f"TaskData {self.name}: {label} has {len(value)} rows, groups has {n}."
                raise InputDataError(msg)
        if self.texts is not None and len(self.texts) != n:
            raise InputDataError(f"TaskData {self.name}: {len(self.texts)} texts for {n} samples.")
        if self.sensor is not None and self.sensor.shape[2] != len(self.channels):
            msg = (f"TaskData {self.name}: sensor has {self.sensor.shape[2]} channels but "
                   f"{len(self.channels)} channel names were given.")
            raise InputDataError(msg)
        if self.features is not None and (self.features.ndim != 2 or self.features.shape[1] != len(self.feature_names)):
            msg = (f"TaskData {self.name}: features must be (N, F) with F = {len(self.feature_names)} "
                   f"feature names; got shape {self.features.shape}.")
            raise InputDataError(msg)
        if self.task is not None and self.targets is None:
            raise InputDataError(f"TaskData {self.name}: task {self.task.name} needs targets.")

    def __len__(self) -> int:
        return len(self.groups)

    @property
    def modalities(self) -> tuple[str, ...]:
        numeric = self.sensor if self.sensor is not None else self.features
        pairs = (("sensor", numeric), ("image", self.images), ("text", self.texts))
        return tuple(m for m, v in pairs if v is not None)

    def subset(self, rows: np.ndarray) -> TaskData:
        """The samples at ``rows`` (int indices or a bool mask)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)

        def pick(a):  # lazy window views (see pipelines.tasks.windows) subset without copying
            return None if a is None else (a.take(rows) if hasattr(a, "take") and not
                                           isinstance(a, np.ndarray) else a[rows])

        texts = None if self.texts is None else tuple(np.asarray(self.texts, dtype=object)[rows])
        return replace(self, groups=self.groups[rows], sensor=pick(self.sensor),
                       images=pick(self.images), texts=texts,
                       text_present=pick(self.text_present), targets=pick(self.targets),
                       features=pick(self.features))

    def without_modality(self, modality: str) -> TaskData:
        """The same samples with one modality removed (single-modality ablations); the sensor
        slot goes with its structured features."""
        changes: dict[str, dict[str, Any]] = {
            "sensor": dict(sensor=None, channels=(), features=None, feature_names=()), "image": dict(images=None),
            "text": dict(texts=None, text_present=None)}
        return replace(self, **changes[modality])

    def fingerprint(self) -> str:
        """sha256 over the arrays and texts: identifies exactly which data a model saw."""
        digest = hashlib.sha256(self.name.encode())
        for value in (self.groups, self.sensor, self.images, self.targets, self.text_present, self.features):
            if value is None:
                continue
            if hasattr(value, "fingerprint_bytes"):
                digest.update(value.fingerprint_bytes())
            else:
                digest.update(np.ascontiguousarray(value).tobytes())
        for text in self.texts or ():
            digest.update(text.encode("utf-8", "replace"))
        return digest.hexdigest()


@dataclass(frozen=True)
class TaskSplits:
    """train / val / test of one task; ``val`` and ``test`` share no group with ``train``."""

    train: TaskData
    val: TaskData
    test: TaskData | None = None

    @property
    def name(self) -> str:
        return self.train.name


class Batcher:
    """Turns rows of :class:`TaskData` into :class:`ModelInput` and target tensors.

    ``channels``: the model's :class:`ChannelIndex` (``model.channel_index``), or a bucket count
    for models without a channel vocabulary (names hashed, as those models were trained).
    """

    def __init__(self, tokenizer: HashingTokenizer, channels: int | ChannelIndex,
                 device: torch.device | str = "cpu") -> None:
        self.tokenizer = tokenizer
        self.channels = channels
        self.device = torch.device(device)
        self._ids: dict[tuple[str, ...], torch.Tensor] = {}

    @classmethod
    def for_model(cls, model: Any, device: torch.device | str = "cpu") -> Batcher:
        """The batcher a built model reads its data with: its config's tokenizer and its channel
        index (``model`` a :class:`~plantpulse.model.moe.network.PlantPulseModel`)."""
        return cls(HashingTokenizer.for_config(model.cfg), model.channel_index, device)

    @property
    def channel_buckets(self) -> int:
        return self.channels if isinstance(self.channels, int) else self.channels.buckets

    def channel_ids(self, names: tuple[str, ...]) -> torch.Tensor:
        """(C,) ids of ``names`` (cached; a collision raises once, at the first batch)."""
        if names not in self._ids:
            if isinstance(self.channels, ChannelIndex) and self.channels.vocab:
                self._ids[names] = self.channels.ids(names)
            else:
                self._ids[names] = channel_ids(names, self.channel_buckets)
        return self._ids[names]

    def inputs(self, data: TaskData, rows: np.ndarray) -> ModelInput:
        fields: dict[str, torch.Tensor] = {}
        n = len(rows)
        rate_hz = None
        if data.sensor is not None:
            fields["sensor"] = torch.from_numpy(np.ascontiguousarray(data.sensor[rows], dtype=np.float32))
            fields["sensor_channels"] = self.channel_ids(tuple(data.channels)).expand(n, -1)
            rate_hz = data.sample_rate_hz
        if data.features is not None:
            fields["features"] = torch.from_numpy(np.ascontiguousarray(data.features[rows], dtype=np.float32))
            fields["feature_ids"] = self.channel_ids(tuple(data.feature_names)).expand(n, -1)
        if data.images is not None:
            fields["image"] = torch.from_numpy(np.ascontiguousarray(data.images[rows])).float() / 255.0
        if data.texts is not None:
            fields |= self.tokenizer.inputs([data.texts[i] for i in rows])
            if data.text_present is not None:
                fields["text_present"] = torch.from_numpy(data.text_present[rows].astype(bool))
        return ModelInput(**fields, sensor_rate_hz=rate_hz).to(self.device)

    def targets(self, data: TaskData, rows: np.ndarray) -> torch.Tensor:
        assert data.targets is not None, "targets requested for pre-training-only data"
        return torch.from_numpy(np.ascontiguousarray(data.targets[rows])).to(self.device)

    def batches(self, data: TaskData, batch_size: int, rng: np.random.Generator | None = None
                ) -> Iterator[np.ndarray]:
        """Row-index batches over ``data``, shuffled when ``rng`` is given."""
        order = np.arange(len(data)) if rng is None else rng.permutation(len(data))
        for start in range(0, len(order), batch_size):
            yield order[start:start + batch_size]


def cycle_batches(data: TaskData, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """An endless stream of shuffled, equally sized row batches (a new permutation each pass;
    the incomplete tail of a pass is skipped; data smaller than a batch comes whole)."""
    while True:
        order = rng.permutation(len(data))
        if len(order) <= batch_size:
            yield order
            continue
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield order[start:start + batch_size]


def combined_fingerprint(parts: Sequence[TaskData]) -> str:
    digest = hashlib.sha256()
    for part in sorted(parts, key=lambda p: p.name):
        digest.update(part.fingerprint().encode())
    return digest.hexdigest()
