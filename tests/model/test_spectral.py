"""Spectral tokens for waveforms: chosen by sampling rate, they find a tone's band and an envelope
modulation, with finite outputs and gradients everywhere."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from plantpulse.model import ModelInput, PlantPulseModel, TaskSpec, preset
from plantpulse.model.moe.layers.spectral import (
    envelope_bands,
    hilbert_envelope,
    spectrum_bands,
    uses_waveform,
)
from plantpulse.model.moe.losses import task_loss

pytestmark = pytest.mark.usefixtures("one_thread")
RATE, T = 12_000.0, 1024


def _tone(freq: float, t: int = T, rate: float = RATE) -> torch.Tensor:
    time = torch.arange(t) / rate
    return torch.sin(2 * math.pi * freq * time)


@pytest.mark.parametrize("freq", [500.0, 2_000.0, 4_500.0])
def test_spectrum_tokens_find_the_band_of_a_tone(freq):
    bands = 64
    x = (_tone(freq) + 0.01 * torch.randn(T, generator=torch.Generator().manual_seed(0)))[None, None]
    power = spectrum_bands(x, bands)[0, 0]
    expected = int(freq / (RATE / 2) * bands)  # equal-width bands over (0, Nyquist]
    assert abs(int(power.argmax()) - expected) <= 1
    assert power.max() > power.median() + 3  # log scale: the tone stands far above the floor


def test_envelope_spectrum_finds_the_modulation_frequency():
    """An impact train (a bearing defect) modulates a resonance: the envelope shows the rate."""
    defect_hz, bands, max_hz = 105.0, 32, 1000.0
    x = (1 + _tone(defect_hz)) * _tone(3_000.0)
    power = envelope_bands(x[None, None], RATE, bands, max_hz)[0, 0]
    assert abs(int(power.argmax()) - int(defect_hz / max_hz * bands)) <= 1


def test_hilbert_envelope_of_a_modulated_tone():
    x = (1.5 + _tone(100.0)) * _tone(3_000.0)
    env = hilbert_envelope(x)
    inner = slice(100, T - 100)  # edges of a non-periodic window ring
    torch.testing.assert_close(env[inner], (1.5 + _tone(100.0))[inner], atol=0.1, rtol=0.05)


def test_the_sampling_rate_chooses_the_embedding():
    cfg = preset("tiny")
    assert uses_waveform(cfg, 12_000.0) and not uses_waveform(cfg, 1.0) and not uses_waveform(cfg, None)
    assert not uses_waveform(preset("tiny", waveform_bands=0, envelope_bands=0), 12_000.0)


def test_waveform_batches_flow_through_the_network_with_gradients(seed):
    spec = TaskSpec(name="fault:bearing", kind="classification", classes=("normal", "inner", "outer"))
    cfg = preset("tiny", tasks=(spec,), capacity_factor=None)
    model = PlantPulseModel(cfg)
    sensor = torch.randn(4, 256, 2)
    batch = ModelInput(sensor=sensor, sensor_channels=model.channel_ids(["de", "fe"]).expand(4, -1),
                       sensor_rate_hz=RATE)
    out = model(batch)
    tokens = out.embedded["sensor"]
    assert tokens.path == "waveform"
    assert tokens.tokens.shape[1] == cfg.n_global_tokens + 2 * (64 // 8 + 32 // 8)
    logits = out.tasks[spec.name].logits
    assert logits.shape == (4, 3) and torch.isfinite(logits).all()
    task_loss(out.tasks[spec.name], torch.tensor([0, 1, 2, 0])).backward()
    path = [n for n, p in model.named_parameters() if n.startswith("embedding.paths.waveform.")]
    assert path and all(dict(model.named_parameters())[n].grad.abs().sum() > 0 for n in path)
    slow = dataclasses.replace(batch, sensor_rate_hz=1.0)
    assert model(slow).embedded["sensor"].path == "sensor"


def test_a_bad_rate_is_refused():
    from plantpulse.data.core.errors import InputDataError

    with pytest.raises(InputDataError, match="sensor_rate_hz"):
        ModelInput(sensor=torch.zeros(1, 8, 1), sensor_channels=torch.zeros(1, 1, dtype=torch.int64),
                   sensor_rate_hz=0.0).validate()
