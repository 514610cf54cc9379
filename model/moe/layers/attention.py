"""SparseGatedAttention: multi-head attention, local window + global tokens, gated per head.

Sparsity: the first ``n_global`` tokens of a sequence are global (they attend to every token and
every token attends to them); every other token i attends to the content tokens j with
``|i - j| <= window``. The content is cut into blocks of ``window`` tokens and each block attends
to itself and its two neighbours, so the cost is O(N · (3·window + n_global)) — linear in N —
while the result equals dense attention under the same mask.

Gate: each head's output is multiplied by a learned, token-dependent sigmoid gate
``g = σ(x·W_g + b_g)`` (B, N, H). At inference, heads whose gate stays below
``head_gate_threshold`` for every valid token of the batch are not computed at all (their rows of
the QKV projection, their attention and their columns of the output projection are skipped);
their contribution would be g·attn ≈ 0, and is exactly what gate·0 gives.
Every query may attend to itself so a fully padded row never produces NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from plantpulse.model.moe.config import ModelConfig


@dataclass(frozen=True, slots=True)
class AttentionOutput:
    """y (B, N, d); gates (B, N, H) sigmoid gates; active_heads: ids of heads computed."""

    y: Tensor
    gates: Tensor
    active_heads: tuple[int, ...]


def dense_mask(valid: Tensor, n_global: int, window: int) -> Tensor:
    """(B, 1, N, N) bool mask with the sparse pattern's semantics (B = 1 when every token is valid)."""
    b, n = valid.shape
    idx = torch.arange(n, device=valid.device)
    band = (idx[:, None] - idx[None, :]).abs() <= window
    is_global = idx < n_global
    pattern = band | is_global[:, None] | is_global[None, :]
    if bool(valid.all()):  # one (1, 1, N, N) mask broadcast over the batch
        return pattern[None, None]
    allowed = pattern[None] & valid[:, None, :]
    allowed = allowed | torch.eye(n, dtype=torch.bool, device=valid.device)[None]
    return allowed.unsqueeze(1)


class SparseGatedAttention(nn.Module):
    """(B, N, d) -> (B, N, d); see the module docstring."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.head_dim = cfg.n_heads, cfg.head_dim
        self.window, self.threshold = cfg.window, cfg.head_gate_threshold
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.d_model)
        self.gate = nn.Linear(cfg.d_model, cfg.n_heads)
        nn.init.constant_(self.gate.bias, 2.0)  # start open (σ(2) ≈ 0.88): heads learn to close

    def forward(self, x: Tensor, valid: Tensor, n_global: int,
                mode: Literal["auto", "sparse", "dense"] = "auto") -> AttentionOutput:
        """x (B, N, d); valid (B, N) bool; the first ``n_global`` tokens are global.

        ``mode="auto"`` runs the blocked sparse kernel when the content is longer than two
        windows and otherwise the dense kernel under the same mask (identical result, fewer
        operations for short sequences); "sparse" / "dense" force one path (tests, benchmarks).
        """
        gates = torch.sigmoid(self.gate(x))  # (B, N, H)
        heads = list(range(self.n_heads))
        if not self.training:
            peak = (gates.detach() * valid.unsqueeze(-1)).amax(dim=(0, 1)).tolist()
            heads = [h for h in heads if peak[h] >= self.threshold]
        if not heads:
            return AttentionOutput(self.out(torch.zeros_like(x)), gates, ())  # = bias only
        qkv = self._project(x, heads)  # (B, N, 3, h, dh)
        length = x.shape[1] - n_global
        if mode == "dense" or (mode == "auto" and length <= 2 * self.window):
            o = self._dense(qkv, valid, n_global)
        else:
            o = self._sparse(qkv, valid, n_global)
        active = gates if len(heads) == self.n_heads else gates[..., heads]
        o = o * active.unsqueeze(-1).to(o.dtype)  # (B, N, h, dh)
        return AttentionOutput(self._output(o, heads), gates, tuple(heads))

    def _project(self, x: Tensor, heads: list[int]) -> Tensor:
        b, n, _ = x.shape
        h, dh = len(heads), self.head_dim
        if h < self.n_heads and isinstance(self.qkv, nn.Linear):
            rows = torch.tensor(heads, device=x.device)
            w = self.qkv.weight.view(3, self.n_heads, dh, -1)[:, rows].reshape(3 * h * dh, -1)
            bias = self.qkv.bias.view(3, self.n_heads, dh)[:, rows].reshape(-1)
            return F.linear(x, w, bias).view(b, n, 3, h, dh)
        # all heads, or a quantised projection: compute every head and keep the active ones
        qkv = self.qkv(x).view(b, n, 3, self.n_heads, dh)
        return qkv if h == self.n_heads else qkv[:, :, :, heads]

    def _output(self, o: Tensor, heads: list[int]) -> Tensor:
        """o (B, N, h, dh) gated head outputs -> (B, N, d)."""
        b, n, h, dh = o.shape
        flat = o.reshape(b, n, h * dh)
        if h == self.n_heads:
            return self.out(flat)
        if isinstance(self.out, nn.Linear):
            cols = torch.cat([torch.arange(i * dh, (i + 1) * dh, device=o.device) for i in heads])
            return F.linear(flat, self.out.weight[:, cols], self.out.bias)
        full = o.new_zeros(b, n, self.n_heads, dh)
        full[:, :, heads] = o
        return self.out(full.reshape(b, n, -1))

    def _dense(self, qkv: Tensor, valid: Tensor, g: int) -> Tensor:
        """Dense attention under the sparse pattern's mask -> (B, N, h, dh)."""
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        n = qkv.shape[1]
        mask = None if (n - g <= self.window and bool(valid.all())) else dense_mask(valid, g, self.window)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2)

    def _sparse(self, qkv: Tensor, valid: Tensor, g: int) -> Tensor:
        """Blocked local attention for content queries, dense rows for the g global queries."""
        b, n, _, h, dh = qkv.shape
        length = n - g
        w = min(self.window, length)
        nb = -(-length // w)
        # content in blocks of w with one empty block on each side: (B, nb + 2, w, 3, h, dh)
        padded = qkv.new_zeros(b, (nb + 2) * w, 3, h, dh)
        padded[:, w:w + length] = qkv[:, g:]
        blocks = padded.view(b, nb + 2, w, 3, h, dh)
        glob = qkv[:, None, :g, 1:].expand(b, nb, g, 2, h, dh)
        kv = torch.cat([glob, blocks[:, :-2, :, 1:], blocks[:, 1:-1, :, 1:], blocks[:, 2:, :, 1:]], dim=2)
        keys = g + 3 * w
        q_b = blocks[:, 1:-1, :, 0].reshape(b * nb, w, h, dh).transpose(1, 2)
        k_b = kv[:, :, :, 0].reshape(b * nb, keys, h, dh).transpose(1, 2)
        v_b = kv[:, :, :, 1].reshape(b * nb, keys, h, dh).transpose(1, 2)
        valid_c = F.pad(valid[:, g:], (0, nb * w - length))
        mask = self._block_mask(valid, valid_c, g, nb, w).view(b * nb, 1, w, keys)
        out = F.scaled_dot_product_attention(q_b, k_b, v_b, attn_mask=mask)  # (B·nb, h, w, dh)
        out = out.transpose(1, 2).reshape(b, nb * w, h, dh)[:, :length]
        if not g:
            return out
        q_g = qkv[:, :g, 0].transpose(1, 2)
        k_all, v_all = qkv[:, :, 1].transpose(1, 2), qkv[:, :, 2].transpose(1, 2)
        mask_g = valid[:, None, None, :] | torch.eye(g, n, dtype=torch.bool, device=qkv.device)
        out_g = F.scaled_dot_product_attention(q_g, k_all, v_all, attn_mask=mask_g).transpose(1, 2)
        return torch.cat([out_g, out], dim=1)

    def _block_mask(self, valid: Tensor, valid_c: Tensor, g: int, nb: int, w: int) -> Tensor:
        b = valid.shape[0]
        a = torch.arange(w, device=valid.device)
        c = torch.arange(3 * w, device=valid.device)
        rel = c[None, :] - w - a[:, None]  # key index - query index, (w, 3w)
        band = rel.abs() <= self.window
        blocks = valid_c.view(b, nb, w)
        zeros = blocks.new_zeros(b, 1, w)
        key_ok = torch.cat([torch.cat([zeros, blocks[:, :-1]], 1), blocks,
                            torch.cat([blocks[:, 1:], zeros], 1)], dim=2)  # (B, nb, 3w)
        local = (band[None, None] & key_ok[:, :, None, :]) | (rel == 0)[None, None]
        glob = valid[:, None, None, :g].expand(b, nb, w, g)
        return torch.cat([glob, local], dim=3)
