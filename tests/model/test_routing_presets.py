"""The presets route for real: each token chooses among more experts than it uses."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from plantpulse.model import PlantPulseModel, preset
from plantpulse.model.moe.losses import task_loss

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name", ["tiny", "default", "large"])
def test_every_preset_chooses_among_more_experts_than_it_uses(name):
    cfg = preset(name)
    assert cfg.experts_per_token_pool >= 4 and cfg.top_k <= cfg.experts_per_token_pool // 2
    assert cfg.waveform_bands > 0  # and embeds waveforms as spectra


def test_tokens_of_one_modality_spread_over_more_experts_than_top_k(tiny_cfg, batch_factory, seed):
    model = PlantPulseModel(tiny_cfg).eval()
    out = model(batch_factory(tiny_cfg, b=8, t=32))
    for stats in out.router:
        for m in (0, 2):  # sensor, text (random images are near-identical tokens at initialisation)
            used = int((stats.modality_load[m] > 0).sum())
            assert tiny_cfg.top_k < used <= tiny_cfg.experts_per_group, "a dense layer would use exactly top_k"


def test_slow_and_waveform_batches_reach_every_non_expert_parameter(tiny_cfg, batch_factory, seed):
    model = PlantPulseModel(tiny_cfg)
    slow = batch_factory(tiny_cfg, b=6, t=32)
    fast = dataclasses.replace(batch_factory(tiny_cfg, b=6, t=256, modalities=("sensor",)), sensor_rate_hz=12_000.0)
    targets = {"rul:turbofan": torch.tensor([10.0, 80.0, 125.0, 40.0, 3.0, 60.0]),
               "fault:bearing": torch.tensor([0, 1, 2, 0, 1, 2]),
               "failure24h:machine": torch.tensor([[1.0, 0.0], [0.0, 0.0]] * 3),
               "anomaly:turbofan": torch.tensor([True, False] * 3)}
    loads = []
    hide = {"sensor": torch.rand(6, 3 * 8, generator=torch.Generator().manual_seed(0)) < 0.5}
    for batch, masks in ((slow, hide), (fast, None)):
        out = model(batch, token_masks=masks)
        assert all(torch.isfinite(t).all() for h in out.tasks.values() for t in h.tensors())
        loss = sum(task_loss(out.tasks[n], targets[n]) for n in out.tasks) + out.aux_loss
        loss.backward()
        loads.append([s.load for s in out.router])
    missing = [n for n, p in model.named_parameters()
               if ".experts." not in n and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not missing
    for layer, block in enumerate(model.blocks[:-1]):  # last layer: content tokens feed no loss
        for e, expert in enumerate(block.ffn.experts):
            has_load = any(bool(load[layer][e] > 0) for load in loads)
            got = expert.fc1.weight.grad is not None and bool(expert.fc1.weight.grad.abs().sum() > 0)
            assert got == has_load, (layer, e)
