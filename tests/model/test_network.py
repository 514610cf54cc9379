"""The assembled network: stages, gradients, freezing, new tasks, presets, input errors."""

from __future__ import annotations

import time

import pytest
import torch

from plantpulse.data.core.errors import ConfigError, InputDataError, UnknownNameError
from plantpulse.model import ModelInput, PlantPulseModel, TaskSpec, preset
from plantpulse.model.moe.layers.experts import HierarchicalMoELayer
from plantpulse.model.moe.losses import task_loss

pytestmark = pytest.mark.usefixtures("one_thread")

TARGETS = {"rul:turbofan": torch.tensor([10.0, 80.0, 125.0, 40.0, 3.0, 60.0]),
           "fault:bearing": torch.tensor([0, 1, 2, 0, 1, 2]),
           "failure24h:machine": torch.tensor([[1.0, 0.0], [0.0, 0.0]] * 3),
           "anomaly:turbofan": torch.tensor([True, False] * 3)}


def _full_loss(model, batch, **kwargs):
    out = model(batch, **kwargs)
    loss = sum(task_loss(out.tasks[n], TARGETS[n][: batch.batch_size]) for n in out.tasks)
    return out, loss + out.aux_loss


def test_named_stages_compose_to_forward(tiny_model, batch_factory):
    batch = batch_factory(tiny_model.cfg)
    tiny_model.eval()
    tokens = tiny_model.embed(batch)
    encoded = tiny_model.encode(tokens)
    fused = tiny_model.fuse(encoded, tokens)
    heads = tiny_model.heads(fused.pooled)
    out = tiny_model(batch)
    torch.testing.assert_close(out.tasks["fault:bearing"].logits, heads["fault:bearing"].logits)
    assert out.exit_layer == tiny_model.cfg.n_layers
    assert len(out.router) == tiny_model.cfg.n_layers
    assert out.expert_shares().shape == (4, tiny_model.cfg.n_experts)


def test_every_parameter_gets_a_gradient(tiny_cfg, batch_factory, seed):
    # top-2 of 2 experts per modality group: all experts used; no waveform path (slow sensors
    # only). The routed tiny preset and the spectral path: tests/model/test_routing_presets.py.
    model = PlantPulseModel(tiny_cfg.replace(n_experts=6, waveform_bands=0, envelope_bands=0))
    batch = batch_factory(model.cfg, b=6, t=32)
    hide = {"sensor": torch.rand(6, 3 * 8) < 0.5}
    out, loss = _full_loss(model, batch, token_masks=hide)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_routed_experts_with_tokens_get_gradients(tiny_cfg, batch_factory, seed):
    # 2 experts per group, top-2: every expert also serves summary tokens in the last layer, so
    # "has load" and "gets a gradient" coincide (with 4 per group an expert may serve only content
    # tokens there, which no loss reads; see tests/model/test_routing_presets.py)
    tiny_model = PlantPulseModel(tiny_cfg.replace(n_experts=6))
    out, loss = _full_loss(tiny_model, batch_factory(tiny_model.cfg, b=6))
    loss.backward()
    for layer_stats, block in zip(out.router, tiny_model.blocks, strict=True):
        for e, expert in enumerate(block.ffn.experts):
            got = expert.fc1.weight.grad is not None and expert.fc1.weight.grad.abs().sum() > 0
            assert got == bool(layer_stats.load[e] > 0)


def test_freeze_backbone_and_add_task_trains_only_the_adapter(tiny_model, batch_factory):
    tiny_model.freeze_backbone()
    tiny_model.add_task(TaskSpec(name="fault:gearbox", kind="classification", classes=("ok", "pitting")))
    assert tiny_model.cfg.task("fault:gearbox").classes == ("ok", "pitting")
    out = tiny_model(batch_factory(tiny_model.cfg), tasks=("fault:gearbox",))
    task_loss(out.tasks["fault:gearbox"], torch.tensor([0, 1, 1, 0])).backward()
    trained = {n for n, p in tiny_model.named_parameters() if p.grad is not None}
    assert trained == {n for n, _ in tiny_model.named_parameters() if ".fault:gearbox." in n}



def test_a_frozen_backbone_keeps_its_routing_biases(tiny_cfg, batch_factory):
    model = PlantPulseModel(tiny_cfg.replace(balance="bias")).train()
    biases = {n: b.clone() for n, b in model.named_buffers() if n.endswith("expert_bias")}
    assert biases
    for frozen in (True, False):
        model.freeze_backbone(frozen)
        model(batch_factory(model.cfg))
        model.update_router_biases()
        moved = any(not torch.equal(b, biases[n]) for n, b in model.named_buffers() if n in biases)
        assert moved is not frozen  # frozen: its routing is part of what was frozen


def test_grad_checkpointing_gives_the_same_gradients(tiny_cfg, batch_factory, seed):
    torch.manual_seed(3)
    plain = PlantPulseModel(tiny_cfg)
    ckpt = PlantPulseModel(tiny_cfg.replace(grad_checkpointing=True))
    ckpt.load_state_dict(plain.state_dict())
    batch = batch_factory(tiny_cfg)
    for model in (plain, ckpt):
        _full_loss(model, batch)[1].backward()
    for (name, a), (_, b) in zip(plain.named_parameters(), ckpt.named_parameters(), strict=True):
        if a.grad is not None:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_early_exit_stops_when_summaries_settle(tiny_cfg, batch_factory):
    model = PlantPulseModel(tiny_cfg.replace(n_layers=4, early_exit_threshold=0.5)).eval()
    assert model(batch_factory(model.cfg)).exit_layer < 4
    assert model.train()(batch_factory(model.cfg)).exit_layer == 4  # never while training


def test_dense_ffn_has_the_moe_active_size(tiny_cfg):
    moe = PlantPulseModel(tiny_cfg)
    dense = PlantPulseModel(tiny_cfg.replace(ffn="dense"))
    counts = moe.parameter_counts()
    assert counts["active"] < counts["total"]
    assert abs(dense.parameter_counts()["total"] - counts["active"]) / counts["active"] < 0.02


def test_bad_input_gets_a_clear_error(tiny_model):
    with pytest.raises(InputDataError, match="no modality"):
        tiny_model(ModelInput())
    with pytest.raises(InputDataError, match="sensor_channels must have shape"):
        tiny_model(ModelInput(sensor=torch.randn(2, 8, 3)))
    bad = torch.randn(2, 8, 3)
    bad[0, 0, 0] = float("nan")
    with pytest.raises(InputDataError, match="NaN"):
        tiny_model(ModelInput(sensor=bad, sensor_channels=torch.zeros(2, 3, dtype=torch.long)))
    with pytest.raises(InputDataError, match=r"samples \[1\] carry no modality"):
        tiny_model(ModelInput(sensor=torch.randn(2, 8, 3), sensor_channels=torch.zeros(2, 3, dtype=torch.long),
                              sensor_present=torch.tensor([True, False])))
    with pytest.raises(UnknownNameError, match="Unknown task 'rul:pump'. Available: rul:turbofan"):
        tiny_model(ModelInput(sensor=torch.randn(2, 8, 3), sensor_channels=torch.zeros(2, 3, dtype=torch.long)),
                   tasks=("rul:pump",))


def test_config_rejects_typos_and_inconsistent_sizes():
    with pytest.raises(ConfigError, match="n_expert"):
        preset("tiny", n_expert=4)
    with pytest.raises(ConfigError, match="divisible by n_heads"):
        preset("tiny", d_model=30)
    with pytest.raises(ConfigError, match="needs n_groups=3"):
        preset("tiny", n_groups=2, n_experts=6)
    with pytest.raises(UnknownNameError, match="Unknown model preset 'huge'. Available: tiny, default, large"):
        preset("huge")


def test_large_preset_sizes():
    cfg = preset("large")
    assert (cfg.d_model, cfg.n_layers, cfg.n_experts, cfg.top_k) == (1280, 24, 16, 4)


@pytest.mark.slow
def test_large_preset_builds_and_runs_one_forward_on_cpu(batch_factory, capsys):
    cfg = preset("large", tasks=(TaskSpec(name="rul:turbofan", kind="rul"),))
    start = time.perf_counter()
    model = PlantPulseModel(cfg).eval()
    built = time.perf_counter() - start
    counts = model.parameter_counts()
    with torch.inference_mode():
        out = model(batch_factory(cfg, b=1, t=64, c=4))
    assert torch.isfinite(out.tasks["rul:turbofan"].mean).all()
    assert len(out.router) == 24 and out.router[0].load.shape == (16,)
    with capsys.disabled():
        print(f"\nlarge preset: {counts['total'] / 1e6:.0f} M parameters ({counts['active'] / 1e6:.0f} M active), "
              f"built in {built:.1f} s, forward in {time.perf_counter() - start - built:.1f} s")


def test_moe_layers_exist_in_every_block(tiny_model):
    assert all(isinstance(b.ffn, HierarchicalMoELayer) for b in tiny_model.blocks)


def test_image_tokens_carry_the_photo_not_only_its_position():
    """Unnormalised, the stem's tokens differed by ~0.005 between photos against position codes of
    ~0.5, and the weld model learnt one class; presets normalise them, old checkpoints keep their layout."""
    from plantpulse.model.moe.config import from_dict
    from plantpulse.model.moe.layers.embeddings import ImagePatchEmbedding

    cfg = preset("tiny")
    assert cfg.image_norm and preset("default").image_norm
    torch.manual_seed(0)
    size = cfg.image_size
    photos = torch.rand(16, 3, size, size) * 0.3 + torch.rand(16, 3, 1, 1) * 0.5
    new = ImagePatchEmbedding(cfg)(photos)
    assert new.values.std(0).mean() > 0.2 * new.position.abs().mean()
    stored = {k: v for k, v in cfg.to_dict().items() if k != "image_norm"}  # a checkpoint from before
    old = ImagePatchEmbedding(from_dict(stored))
    assert not from_dict(stored).image_norm and not any(k.startswith("norm.") for k in old.state_dict())
    assert old(photos).values.std(0).mean() < new.values.std(0).mean()
