"""Contract tests over every registry entry: embeddings, adapters, heads.

Right shapes, no NaNs, and every parameter receives a gradient.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from plantpulse.model import TaskSpec, preset
from plantpulse.model.moe.layers.adapters import ADAPTERS
from plantpulse.model.moe.layers.embeddings import EMBEDDINGS, DynamicEmbedding
from plantpulse.model.moe.layers.heads import HEADS, TaskAdaptiveDecoder
from plantpulse.model.moe.losses import task_loss

pytestmark = pytest.mark.usefixtures("one_thread")

SPECS = {
    "classification": TaskSpec(name="fault:pump", kind="classification", classes=("ok", "wear", "leak")),
    "multilabel": TaskSpec(name="failure24h:pump", kind="multilabel", classes=("seal", "motor")),
    "rul": TaskSpec(name="rul:pump", kind="rul", rul_cap=100.0),
    "anomaly": TaskSpec(name="anomaly:pump", kind="anomaly"),
}
TARGETS = {
    "classification": torch.tensor([0, 1, 2, 1, 0]),
    "multilabel": torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]),
    "rul": torch.tensor([3.0, 50.0, 99.0, 140.0, 0.0]),
    "anomaly": torch.tensor([True, True, False, True, False]),
}


def _assert_all_grads(module: torch.nn.Module) -> None:
    missing = [n for n, p in module.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"parameters without gradient: {missing}"


def test_registries_are_complete():
    assert set(HEADS.names()) == set(SPECS)
    assert set(EMBEDDINGS.names()) == {"sensor", "waveform", "summary", "features", "image", "text"}
    assert set(ADAPTERS.names()) == {"bottleneck", "lora"}


@pytest.mark.parametrize("kind", HEADS.names())
@pytest.mark.parametrize("adapter", ADAPTERS.names())
def test_head_with_adapter_contract(kind, adapter, seed):
    cfg = preset("tiny", adapter=adapter)
    decoder = TaskAdaptiveDecoder(cfg)
    decoder.add_task(SPECS[kind])
    pooled = torch.randn(5, cfg.d_model, requires_grad=True)
    out = decoder(pooled)[SPECS[kind].name]
    for tensor in out.tensors():
        assert tensor.shape[0] == 5 and torch.isfinite(tensor).all()
    task_loss(out, TARGETS[kind], SPECS[kind].rul_cap).backward()
    _assert_all_grads(decoder)
    assert pooled.grad.abs().sum() > 0


def test_head_output_semantics(seed):
    cfg = preset("tiny", tasks=tuple(SPECS.values()))
    decoder = TaskAdaptiveDecoder(cfg)
    out = decoder(torch.randn(5, cfg.d_model))
    torch.testing.assert_close(out["fault:pump"].probs.sum(-1), torch.ones(5))
    rul = out["rul:pump"]
    lower, upper = rul.interval(0.8)
    assert torch.all(lower <= rul.mean.clamp_min(0)) and torch.all(rul.mean <= upper)
    survival = rul.survival(torch.tensor([0.0, 50.0, 1000.0]))
    assert survival.shape == (5, 3) and torch.all(survival[:, 0] >= survival[:, 1])
    assert torch.all(survival[:, 2] < 1e-3)
    score = out["anomaly:pump"].score
    assert torch.all((score >= 0) & (score < 1))


def test_unknown_head_kind_lists_what_exists():
    with pytest.raises(KeyError, match="Unknown task head 'survival'. Available: anomaly, classification"):
        HEADS.get("survival")


# "summary" adds tokens to the "sensor" path rather than replacing it: tests/model/test_feature_tokens.py
@pytest.mark.parametrize("path", [name for name in EMBEDDINGS.names() if name != "summary"])
def test_embedding_contract(path, seed, batch_factory):
    """Every registered embedding path; ``waveform`` is the sensor modality at a high rate,
    ``features`` the sensor slot holding structured features only."""
    cfg = preset("tiny", waveform_bands=20, envelope_bands=12, waveform_band_group=8, feature_tokens=True)
    modality = "sensor" if path in ("waveform", "features") else path
    batch = batch_factory(cfg, b=3, t=21, c=2, modalities=(path if path == "features" else modality,))
    if modality == "sensor":
        batch = dataclasses.replace(batch, sensor_rate_hz=12_000.0 if path == "waveform" else 1.0)
    embedding = DynamicEmbedding(cfg)
    assert embedding.path_of(batch, modality) == path
    content = embedding.content(batch, modality)
    b, n, d = content.values.shape
    assert (b, d) == (3, cfg.d_model)
    expected_n = {"sensor": 2 * -(-21 // cfg.patch_len), "image": (cfg.image_size // cfg.image_patch) ** 2,
                  "text": cfg.max_text_len, "waveform": 2 * (3 + 2), "features": 2}[path]
    assert n == expected_n and content.valid.shape == (3, n) and content.targets.shape[:2] == (3, n)
    hide = torch.zeros(3, n, dtype=torch.bool)
    hide[:, 0] = True
    tokens = embedding(batch, {modality: hide})[modality]
    assert tokens.tokens.shape == (3, cfg.n_global_tokens + n, cfg.d_model)
    assert torch.isfinite(tokens.tokens).all()
    tokens.tokens[tokens.valid].pow(2).sum().backward()
    used = [f"paths.{path}.", "tag", "summary", "mask_token", "norm"]
    for name, param in embedding.named_parameters():
        if any(name.startswith(prefix) for prefix in used):
            assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_sensor_embedding_is_channel_aware(seed, batch_factory):
    cfg = preset("tiny")
    embedding = DynamicEmbedding(cfg)
    batch = batch_factory(cfg, b=1, t=8, c=2, modalities=("sensor",))
    swapped = type(batch)(sensor=batch.sensor, sensor_channels=batch.sensor_channels.flip(-1))
    a = embedding(batch)["sensor"].tokens
    b = embedding(swapped)["sensor"].tokens
    assert not torch.allclose(a, b)  # the same values under other channel names embed differently
