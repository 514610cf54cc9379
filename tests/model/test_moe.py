"""Proofs for HierarchicalMoELayer: dispatch equals a naive per-token loop; balancing works."""

from __future__ import annotations

import math

import pytest
import torch

from plantpulse.model import preset
from plantpulse.model.moe.layers.experts import HierarchicalMoELayer, capacity_for

pytestmark = pytest.mark.usefixtures("one_thread")


def reference_moe(layer: HierarchicalMoELayer, x: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
    """Token by token, written from the documented semantics, sharing only the weights."""
    cfg = layer.cfg
    n_tok, n_exp, k, epg = x.shape[0], cfg.n_experts, cfg.top_k, cfg.experts_per_group
    bias = layer.expert_bias if cfg.balance == "bias" else torch.zeros(n_exp, dtype=x.dtype)
    group_of = [e // epg for e in range(n_exp)]
    assignments = []  # (expert, slot, gate, token)
    for t in range(n_tok):
        logits = x[t] @ layer.router.lora.A @ layer.router.lora.B
        full = torch.softmax(logits, -1)
        if cfg.group_routing == "modality":
            allowed = [group_of[e] == int(modality[t]) for e in range(n_exp)]
        elif cfg.group_routing == "learned":
            score = full + bias
            group_score = []
            for g in range(cfg.n_groups):
                members = sorted((float(score[e]) for e in range(n_exp) if group_of[e] == g), reverse=True)
                group_score.append(sum(members[:2]))
            keep = sorted(range(cfg.n_groups), key=lambda g: -group_score[g])[: cfg.topk_groups]
            allowed = [group_of[e] in keep for e in range(n_exp)]
        else:
            allowed = [True] * n_exp
        if cfg.group_routing == "modality":
            masked = torch.tensor([float(logits[e]) if allowed[e] else -math.inf for e in range(n_exp)],
                                  dtype=x.dtype)
            probs = torch.softmax(masked, -1)
        else:
            probs = full
        candidates = sorted((e for e in range(n_exp) if allowed[e]), key=lambda e: -float(probs[e] + bias[e]))
        chosen = candidates[:k]
        gates = [probs[e] for e in chosen]
        if k > 1:
            total = sum(gates)
            gates = [g / total for g in gates]
        assignments += [(e, s, gates[s], t) for s, e in enumerate(chosen)]
    if cfg.capacity_factor is not None:
        kept = []
        for e in range(n_exp):
            mine = sorted((a for a in assignments if a[0] == e), key=lambda a: (a[1], -float(a[2])))
            if cfg.group_routing == "modality":
                reach, sharing = int((modality == group_of[e]).sum()), epg
            else:
                reach, sharing = n_tok, n_exp
            kept += mine[: capacity_for(cfg.capacity_factor, k, reach, sharing)]
        assignments = kept
    y = torch.zeros_like(x)
    for e, _, gate, t in assignments:
        y[t] += gate * layer.experts[e](x[t : t + 1])[0]
    if layer.shared is not None:
        y = y + layer.shared(x)
    return y


CASES = {
    "k1-none-nocap": dict(top_k=1, n_groups=1, group_routing="none", capacity_factor=None),
    "k2-none-nocap": dict(top_k=2, n_groups=1, group_routing="none", capacity_factor=None),
    "k3-none-overflow": dict(top_k=3, n_groups=1, group_routing="none", capacity_factor=0.5),
    "k2-modality-nocap": dict(top_k=2, n_groups=3, group_routing="modality", capacity_factor=None),
    "k2-modality-overflow": dict(top_k=2, n_groups=3, group_routing="modality", capacity_factor=0.6),
    "k1-modality-overflow": dict(top_k=1, n_groups=3, group_routing="modality", capacity_factor=0.3),
    "k2-learned-nocap": dict(top_k=2, n_groups=3, group_routing="learned", topk_groups=2, capacity_factor=None),
    "k2-learned-overflow": dict(top_k=2, n_groups=3, group_routing="learned", topk_groups=1, capacity_factor=0.8),
    "k2-bias-overflow": dict(top_k=2, n_groups=1, group_routing="none", capacity_factor=0.7, balance="bias"),
    "k2-noshared": dict(top_k=2, n_groups=1, group_routing="none", capacity_factor=1.0, n_shared_experts=0),
}


@pytest.mark.parametrize("overrides", CASES.values(), ids=CASES.keys())
def test_dispatch_equals_naive_per_token_loop(overrides, seed):
    cfg = preset("tiny", n_experts=6, **overrides)
    layer = HierarchicalMoELayer(cfg).double().train()
    if cfg.balance == "bias":
        layer.expert_bias.copy_(torch.linspace(-0.05, 0.05, cfg.n_experts))
    x = torch.randn(57, cfg.d_model, dtype=torch.float64)
    modality = torch.randint(0, 3, (57,))
    with torch.no_grad():
        out = layer(x, modality)
        expected = reference_moe(layer, x, modality)
    torch.testing.assert_close(out.y, expected, rtol=1e-9, atol=1e-9)
    if cfg.capacity_factor is not None and cfg.capacity_factor < 1:
        assert out.stats.dropped > 0, "an overflow case must actually drop assignments"
    assert int(out.stats.load.sum()) + out.stats.dropped == 57 * cfg.top_k


def test_balance_loss_has_router_gradient(seed):
    cfg = preset("tiny", group_routing="none", n_groups=1, capacity_factor=None)
    layer = HierarchicalMoELayer(cfg)
    out = layer(torch.randn(128, cfg.d_model), torch.zeros(128, dtype=torch.long))
    out.aux_loss.backward()
    assert layer.router.lora.A.grad.abs().sum() > 0
    assert layer.router.lora.B.grad.abs().sum() > 0


@pytest.mark.parametrize("mode", ["none", "modality"])
def test_balance_loss_is_one_for_uniform_routing(mode):
    cfg = preset("tiny", n_experts=6, n_groups=1 if mode == "none" else 3, group_routing=mode, top_k=1)
    layer = HierarchicalMoELayer(cfg)
    modality = torch.arange(60) % 3
    allowed = layer.router.allowed_experts(torch.zeros(60, 6), modality)
    probs = allowed.float() / allowed.sum(1, keepdim=True)
    routed = torch.full((6,), 10)  # 60 tokens, k = 1, spread evenly
    assert layer._balance_loss(probs, routed, modality).item() == pytest.approx(1.0)


def _skewed_setup(**overrides):
    """Tokens around one direction and a router tilted towards expert 0: most tokens pick the
    same two experts (imbalance ≈ 3.6 of a possible 4 with 8 experts, top-2)."""
    cfg = preset("tiny", n_experts=8, top_k=2, n_groups=1, group_routing="none",
                 capacity_factor=None, router_rank=4, **overrides)
    layer = HierarchicalMoELayer(cfg).train()
    gen = torch.Generator().manual_seed(1)
    direction = torch.randn(cfg.d_model, generator=gen)
    x = direction + torch.randn(512, cfg.d_model, generator=gen)
    with torch.no_grad():
        towards = layer.router.lora.A.T @ direction
        layer.router.lora.B[:, 0] += 2.0 * towards / towards.norm()
    return layer, x, torch.zeros(len(x), dtype=torch.long)


def test_aux_loss_training_lowers_imbalance(seed):
    layer, x, modality = _skewed_setup(aux_loss_weight=1.0)
    before = layer(x, modality).stats.imbalance
    optimizer = torch.optim.Adam(layer.router.parameters(), lr=0.05)
    for _ in range(60):
        out = layer(x, modality)
        optimizer.zero_grad()
        out.aux_loss.backward()
        optimizer.step()
    after = layer(x, modality).stats.imbalance
    assert before > 2.5
    assert after < 0.5 * before, (before, after)


def test_bias_balancing_without_aux_loss(seed):
    layer, x, modality = _skewed_setup(balance="bias", bias_update_rate=0.005)
    first = layer(x, modality)
    before = first.stats.imbalance
    assert first.aux_loss.item() == 0.0
    weights = [p.clone() for p in layer.parameters()]
    history = []
    for _ in range(200):
        layer.update_bias()  # no gradient step at all: only the selection bias moves
        history.append(layer(x, modality).stats.imbalance)
    assert all(torch.equal(a, b) for a, b in zip(weights, layer.parameters(), strict=True))
    settled = sum(history[-50:]) / 50  # sign updates make the load oscillate a little
    assert before > 2.5
    assert settled < 0.6 * before, (before, settled)
    assert layer.expert_bias[0] < 0 < layer.expert_bias[1:].max()


def test_modality_routing_keeps_tokens_in_their_group(seed):
    cfg = preset("tiny", capacity_factor=None)
    layer = HierarchicalMoELayer(cfg)
    modality = torch.randint(0, 3, (90,))
    out = layer(torch.randn(90, cfg.d_model), modality, sample_ids=torch.arange(90) % 5, n_samples=5)
    load = out.stats.modality_load.view(3, cfg.n_groups, -1)
    off_group = load.sum() - sum(load[g, g].sum() for g in range(3))
    assert off_group == 0
    assert out.stats.sample_load.shape == (5, cfg.n_experts)
    assert int(out.stats.sample_load.sum()) == 90 * cfg.top_k


def test_eval_capacity_is_unlimited_by_default(seed):
    cfg = preset("tiny", capacity_factor=0.2)
    layer = HierarchicalMoELayer(cfg)
    x, modality = torch.randn(64, cfg.d_model), torch.randint(0, 3, (64,))
    assert layer.train()(x, modality).stats.dropped > 0
    assert layer.eval()(x, modality).stats.dropped == 0
