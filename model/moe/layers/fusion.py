"""SparseAttentionFusion: cross-modal fusion over per-modality summary tokens.

Each present modality's summary token attends to the ``fusion_top_k`` highest-scoring present
modalities (itself included when it scores high enough); the others get exactly zero weight.
A learned fusion query then pools the fused tokens the same sparse way into one vector per
sample; its attention weights are the per-sample modality shares reported by the model.
Absent modalities are masked out, so any non-empty subset of modalities works.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from plantpulse.model.moe.config import MODALITIES, ModelConfig


@dataclass(frozen=True, slots=True)
class FusionOutput:
    """pooled (B, d); tokens (B, M, d) fused summaries; shares (B, M) pooling weights (sum 1)."""

    pooled: Tensor
    tokens: Tensor
    shares: Tensor


def topk_attention(q: Tensor, k: Tensor, v: Tensor, key_present: Tensor, top_k: int
                   ) -> tuple[Tensor, Tensor]:
    """q (B, H, Q, dh), k/v (B, H, M, dh), key_present (B, M) -> out (B, H, Q, dh), w (B, H, Q, M).

    Only the ``top_k`` best present keys of each query get weight; rows with no present key
    return zeros instead of NaN.
    """
    scores = (q @ k.transpose(-1, -2)) / q.shape[-1] ** 0.5
    scores = scores.masked_fill(~key_present[:, None, None, :], float("-inf"))
    kth = scores.topk(min(top_k, scores.shape[-1]), dim=-1).values[..., -1:]
    scores = scores.masked_fill(scores < kth, float("-inf"))
    weights = torch.nan_to_num(scores.softmax(-1), nan=0.0)
    return weights @ v, weights


class SparseAttentionFusion(nn.Module):
    """(B, M, d) summaries + (B, M) presence -> :class:`FusionOutput`."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.top_k = cfg.fusion_top_k
        self.n_heads = cfg.n_heads
        self.norm = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.pool_query = nn.Parameter(torch.randn(d) * 0.02)
        self.pool_kv = nn.Linear(d, 2 * d)
        self.pool_norm = nn.LayerNorm(d)
        self.out_norm = nn.LayerNorm(d)

    def _heads(self, t: Tensor) -> Tensor:
        b, m, d = t.shape
        return t.view(b, m, self.n_heads, d // self.n_heads).transpose(1, 2)

    def forward(self, summaries: Tensor, present: Tensor) -> FusionOutput:
        b, m, d = summaries.shape
        q, k, v = (self._heads(t) for t in self.qkv(self.norm(summaries)).chunk(3, dim=-1))
        mixed, _ = topk_attention(q, k, v, present, self.top_k)
        fused = summaries + self.proj(mixed.transpose(1, 2).reshape(b, m, d))
        fused = fused * present.unsqueeze(-1).to(fused.dtype)
        pk, pv = (self._heads(t) for t in self.pool_kv(self.pool_norm(fused)).chunk(2, dim=-1))
        pq = self._heads(self.pool_query.expand(b, 1, d))
        pooled, weights = topk_attention(pq, pk, pv, present, self.top_k)
        pooled = pooled.transpose(1, 2).reshape(b, d)
        return FusionOutput(self.out_norm(pooled), fused, weights.mean(1).squeeze(1))


def stack_summaries(encoded: dict[str, Tensor], present: dict[str, Tensor], n_global: int,
                    batch: int, d_model: int) -> tuple[Tensor, Tensor]:
    """Per-modality encoded sequences -> (B, M, d) first summary tokens and (B, M) presence,
    in the canonical modality order; modalities missing from the batch are masked slots."""
    device = next(iter(encoded.values())).device
    dtype = next(iter(encoded.values())).dtype
    tokens, flags = [], []
    for modality in MODALITIES:
        if modality in encoded:
            tokens.append(encoded[modality][:, :n_global].mean(1))
            flags.append(present[modality])
        else:
            tokens.append(torch.zeros(batch, d_model, device=device, dtype=dtype))
            flags.append(torch.zeros(batch, dtype=torch.bool, device=device))
    return torch.stack(tokens, 1), torch.stack(flags, 1)
