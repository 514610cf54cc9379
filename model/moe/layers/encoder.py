"""Encoder blocks: pre-norm SparseGatedAttention then a pre-norm HierarchicalMoELayer, residual.

Attention runs per modality (a modality's tokens attend within their own sequence; modalities
meet later, in fusion). The MoE feed-forward runs once over the *valid* tokens of all modalities
together, so experts see full batches and padding never takes expert capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from plantpulse.model.moe.config import MODALITIES, ModelConfig
from plantpulse.model.moe.layers.attention import SparseGatedAttention
from plantpulse.model.moe.layers.experts import Expert, HierarchicalMoELayer, RouterStats


@dataclass(frozen=True, slots=True)
class BlockOutput:
    """seqs: modality -> (B, N_m, d); aux/balance: scalars; stats None for dense FFN blocks;
    active_heads: heads computed per modality."""

    seqs: dict[str, Tensor]
    aux_loss: Tensor
    balance_loss: Tensor
    stats: RouterStats | None
    active_heads: dict[str, tuple[int, ...]]


class DenseFFN(nn.Module):
    """The dense baseline: one FFN with the MoE's active hidden width (k + shared experts)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ffn = Expert(cfg.d_model, cfg.expert_hidden * (cfg.top_k + cfg.n_shared_experts))

    def forward(self, x: Tensor) -> Tensor:
        return self.ffn(x)


class EncoderBlock(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.norm_attn = nn.LayerNorm(cfg.d_model)
        self.attn = SparseGatedAttention(cfg)
        self.norm_ffn = nn.LayerNorm(cfg.d_model)
        self.ffn: nn.Module = HierarchicalMoELayer(cfg) if cfg.ffn == "moe" else DenseFFN(cfg)
        self.dropout = cfg.dropout
        self.grad_checkpointing = cfg.grad_checkpointing

    def forward(self, seqs: dict[str, Tensor], valid: dict[str, Tensor], n_global: int) -> BlockOutput:
        if self.grad_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(self._forward, seqs, valid, n_global, use_reentrant=False)
        return self._forward(seqs, valid, n_global)

    def _forward(self, seqs: dict[str, Tensor], valid: dict[str, Tensor], n_global: int) -> BlockOutput:
        out, heads = {}, {}
        for modality, x in seqs.items():
            a = self.attn(self.norm_attn(x), valid[modality], n_global)
            out[modality] = x + F.dropout(a.y, self.dropout, self.training)
            heads[modality] = a.active_heads
        tokens, modality_ids, sample_ids = self._gather(out, valid)
        zero = tokens.new_zeros(())
        if isinstance(self.ffn, HierarchicalMoELayer):
            batch = next(iter(out.values())).shape[0]
            moe = self.ffn(tokens, modality_ids, sample_ids, batch)
            y, aux, balance, stats = moe.y, moe.aux_loss, moe.balance_loss, moe.stats
        else:
            y, aux, balance, stats = self.ffn(tokens), zero, zero, None
        y = F.dropout(y, self.dropout, self.training)
        start = 0
        for modality, x in out.items():
            mask = valid[modality]
            full = self._dense_mask(mask)
            count = mask.numel() if full else int(mask.sum())
            chunk = y[start:start + count]
            if full:  # every token valid: no scatter needed
                out[modality] = x + chunk.view_as(x)
            else:
                out[modality] = x + torch.zeros_like(x).masked_scatter(mask.unsqueeze(-1), chunk)
            start += count
        return BlockOutput(out, aux, balance, stats, heads)

    @staticmethod
    def _dense_mask(mask: Tensor) -> bool:
        return bool(mask.all())

    def _gather(self, seqs: dict[str, Tensor], valid: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Valid tokens of all modalities as (T, d), with their modality and sample ids (T,)."""
        flat, modality_ids, sample_ids = [], [], []
        for modality, x in seqs.items():
            mask, normed = valid[modality], self.norm_ffn(x)
            if self._dense_mask(mask):
                rows = torch.arange(x.shape[0], device=x.device).repeat_interleave(x.shape[1])
                flat.append(normed.reshape(-1, x.shape[-1]))
            else:
                rows = torch.nonzero(mask)[:, 0]
                flat.append(normed[mask])
            sample_ids.append(rows)
            modality_ids.append(torch.full_like(rows, MODALITIES.index(modality)))
        if len(flat) == 1:  # one modality: no concatenation copy
            return flat[0], modality_ids[0], sample_ids[0]
        return torch.cat(flat), torch.cat(modality_ids), torch.cat(sample_ids)
