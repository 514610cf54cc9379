"""Small synthetic inputs and tiny models for the model tests (built once per module)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plantpulse.model import ModelInput, PlantPulseModel, TaskSpec, preset
from plantpulse.model.moe.layers.embeddings import HashingTokenizer

TASKS = (
    TaskSpec(name="rul:turbofan", kind="rul"),
    TaskSpec(name="fault:bearing", kind="classification", classes=("normal", "inner", "outer")),
    TaskSpec(name="failure24h:machine", kind="multilabel", classes=("comp1", "comp2")),
    TaskSpec(name="anomaly:turbofan", kind="anomaly"),
)
LOG_LINES = ("R/H ENGINE CYL 3 LOW COMPRESSION", "REPLACED O-RING ON FUEL PUMP", "",
             "error3 14h ago; maint comp2 replaced", "OIL LEAK AT L/H MAG")


def make_batch(cfg, b: int = 4, t: int = 24, c: int = 3, modalities=("sensor", "image", "text"),
               seed: int = 0, present: dict[str, list[bool]] | None = None) -> ModelInput:
    """A batch with the requested modalities; ``present`` masks modalities per sample."""
    gen = torch.Generator().manual_seed(seed)
    fields = {}
    if "sensor" in modalities:
        fields["sensor"] = torch.randn(b, t, c, generator=gen)
        from plantpulse.model.moe.layers.embeddings import channel_ids
        fields["sensor_channels"] = channel_ids([f"ch{i}" for i in range(c)], cfg.channel_buckets).expand(b, -1)
    if "features" in modalities:  # structured features: the sensor slot's other token type
        fields["features"] = torch.randn(b, c, generator=gen)
        from plantpulse.model.moe.layers.embeddings import channel_ids
        fields["feature_ids"] = channel_ids([f"feature {i}" for i in range(c)], cfg.channel_buckets).expand(b, -1)
    if "image" in modalities:
        fields["image"] = torch.rand(b, cfg.image_channels, cfg.image_size, cfg.image_size, generator=gen)
    if "text" in modalities:
        tok = HashingTokenizer(cfg.vocab_size, cfg.max_text_len)
        ids, mask = tok.encode([LOG_LINES[i % len(LOG_LINES)] for i in range(b)])
        fields["text_ids"], fields["text_mask"] = ids, mask
    for modality, flags in (present or {}).items():
        fields[f"{modality}_present"] = torch.tensor(flags)
    return ModelInput(**fields)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and OpenMP spin-waits make two threads very slow
    when another process shares the 2 cores; restored afterwards for other packages' tests."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_cfg():
    return preset("tiny", tasks=TASKS, capacity_factor=None)


@pytest.fixture
def tiny_model(tiny_cfg, seed):
    return PlantPulseModel(tiny_cfg)


@pytest.fixture
def np_rng(seed) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture(scope="session")
def batch_factory():
    """``make_batch(cfg, b=4, t=24, c=3, modalities=..., present=...)``."""
    return make_batch


@pytest.fixture(scope="session")
def tasks():
    return TASKS
