"""Proofs for SparseGatedAttention."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from plantpulse.model import preset
from plantpulse.model.moe.layers.attention import SparseGatedAttention, dense_mask

pytestmark = pytest.mark.usefixtures("one_thread")


def plain_attention(module: SparseGatedAttention, x: torch.Tensor, key_valid: torch.Tensor) -> torch.Tensor:
    """Textbook multi-head attention with a key padding mask and the same gates and weights."""
    b, n, d = x.shape
    h, dh = module.n_heads, module.head_dim
    q, k, v = module.qkv(x).view(b, n, 3, h, dh).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-1, -2) / dh**0.5
    allowed = key_valid[:, None, None, :] | torch.eye(n, dtype=torch.bool)
    weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
    gates = torch.sigmoid(module.gate(x)).transpose(1, 2).unsqueeze(-1)
    o = (weights @ v) * gates
    return module.out(o.transpose(1, 2).reshape(b, n, d))


@pytest.mark.parametrize("n_global", [0, 1, 3], ids=lambda g: f"global{g}")
@pytest.mark.parametrize("length", [5, 40], ids=lambda n: f"len{n}")
def test_equals_dense_masked_attention_when_window_covers_sequence(n_global, length, seed):
    cfg = preset("tiny", window=64)
    module = SparseGatedAttention(cfg).eval()
    x = torch.randn(3, length, cfg.d_model)
    valid = torch.rand(3, length) > 0.25
    with torch.no_grad():
        sparse = module(x, valid, n_global, mode="sparse").y
        expected = plain_attention(module, x, valid)
    torch.testing.assert_close(sparse, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("window", [1, 3, 8])
def test_banded_sparse_attention_equals_dense_with_the_same_mask(window, seed):
    cfg = preset("tiny", window=window)
    module = SparseGatedAttention(cfg)
    x, valid = torch.randn(2, 53, cfg.d_model), torch.rand(2, 53) > 0.2
    torch.testing.assert_close(module(x, valid, 2, mode="sparse").y, module(x, valid, 2, mode="dense").y,
                               rtol=1e-5, atol=1e-5)


def test_auto_mode_picks_dense_for_short_sequences_with_the_same_result(seed):
    cfg = preset("tiny", window=8)
    module = SparseGatedAttention(cfg)
    x, valid = torch.randn(2, 12, cfg.d_model), torch.rand(2, 12) > 0.2
    torch.testing.assert_close(module(x, valid, 1).y, module(x, valid, 1, mode="sparse").y,
                               rtol=1e-5, atol=1e-5)


def test_dense_mask_is_local_plus_global():
    mask = dense_mask(torch.ones(1, 8, dtype=torch.bool), n_global=1, window=2)[0, 0]
    assert mask[0].all() and mask[:, 0].all()  # the global token sees and is seen by all
    assert mask[4, 2] and mask[4, 6] and not mask[4, 7] and not mask[7, 4]


def test_skipped_heads_equal_gate_times_zero(seed):
    cfg = preset("tiny", window=6, head_gate_threshold=0.05)
    module = SparseGatedAttention(cfg).eval()
    with torch.no_grad():
        module.gate.bias[[1, 3]] = -30.0  # σ(-30) ≈ 1e-13 < threshold for any input
        module.gate.weight[[1, 3]] = 0.0
    x, valid = torch.randn(2, 30, cfg.d_model), torch.ones(2, 30, dtype=torch.bool)
    with torch.no_grad():
        skipped = module(x, valid, 1)
        module.threshold = 0.0  # compute every head...
        full = module(x, valid, 1)
        # ...then zero the closed heads' contribution by hand: gate·0
        b, n, d = x.shape
        h, dh = module.n_heads, module.head_dim
        q, k, v = module.qkv(x).view(b, n, 3, h, dh).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=dense_mask(valid, 1, 6))
        gates = torch.sigmoid(module.gate(x)).transpose(1, 2).unsqueeze(-1).clone()
        gates[:, [1, 3]] = 0.0
        by_hand = module.out((o * gates).transpose(1, 2).reshape(b, n, d))
    assert skipped.active_heads == (0, 2)
    assert full.active_heads == (0, 1, 2, 3)
    torch.testing.assert_close(skipped.y, by_hand, rtol=1e-5, atol=1e-6)


def test_all_heads_skipped_returns_output_bias(seed):
    cfg = preset("tiny")
    module = SparseGatedAttention(cfg).eval()
    with torch.no_grad():
        module.gate.bias.fill_(-30.0)
        module.gate.weight.zero_()
    x = torch.randn(1, 9, cfg.d_model)
    out = module(x, torch.ones(1, 9, dtype=torch.bool), 1)
    assert out.active_heads == ()
    torch.testing.assert_close(out.y, module.out.bias.expand_as(x))


def test_every_parameter_receives_a_gradient(seed):
    cfg = preset("tiny", window=4)
    module = SparseGatedAttention(cfg).train()
    x = torch.randn(2, 37, cfg.d_model, requires_grad=True)
    module(x, torch.rand(2, 37) > 0.1, 1, mode="sparse").y.pow(2).sum().backward()
    for name, param in module.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


def test_padded_rows_never_produce_nan(seed):
    cfg = preset("tiny", window=4)
    module = SparseGatedAttention(cfg)
    valid = torch.zeros(2, 20, dtype=torch.bool)
    valid[0, :3] = True
    out = module(torch.randn(2, 20, cfg.d_model), valid, 1, mode="sparse").y
    assert torch.isfinite(out).all()
