"""Two-level routing: a token is steered to a group of experts, then a LoRA router picks top-k.

Level 1 (``group_routing``):
- ``"modality"``: group g serves modality g (sensor, image, text) — a hard, explainable split;
- ``"learned"``: DeepSeek-V3 group-limited routing — a group's score is the sum of its two best
  expert scores; each token keeps its ``topk_groups`` best groups;
- ``"none"``: one group holding every expert.

Level 2: the LoRA router scores experts with low-rank logits ``(x·A)·B`` (A: d×r, B: r×E), which
costs r·(d+E) parameters instead of d·E. Gate weights come from the softmax over the allowed
experts; the DeepSeek-V3 balancing bias shifts only *which* experts are chosen, never the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from plantpulse.model.moe.config import ModelConfig


class LoRARouter(nn.Module):
    """Low-rank router: (N, d) -> (N, E) logits = x·A·B.

    A and B are plain parameters (not ``nn.Linear``) so int8 dynamic quantisation leaves routing
    decisions in full precision.
    """

    def __init__(self, d_model: int, n_experts: int, rank: int) -> None:
        super().__init__()
        self.A = nn.Parameter(torch.randn(d_model, rank) / d_model**0.5)
        self.B = nn.Parameter(torch.randn(rank, n_experts) / rank**0.5)

    def forward(self, x: Tensor) -> Tensor:
        return (x @ self.A.to(x.dtype)) @ self.B.to(x.dtype)

    @staticmethod
    def parameter_count(d_model: int, n_experts: int, rank: int) -> int:
        return rank * (d_model + n_experts)


def dense_router_parameter_count(d_model: int, n_experts: int) -> int:
    """Parameters of the full-rank router the LoRA router replaces (a d×E matrix)."""
    return d_model * n_experts


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """experts (N, k) int64 chosen ids; gates (N, k) weights; probs (N, E) router probabilities
    (zero outside each token's allowed experts); allowed (N, E) bool."""

    experts: Tensor
    gates: Tensor
    probs: Tensor
    allowed: Tensor


class GroupRouter(nn.Module):
    """Applies both routing levels; see the module docstring."""

    expert_group: Tensor  # (E,) group of each expert; a buffer registered in __init__

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.mode = cfg.group_routing
        self.top_k = cfg.top_k
        self.n_groups = cfg.n_groups
        self.topk_groups = cfg.topk_groups
        self.lora = LoRARouter(cfg.d_model, cfg.n_experts, cfg.router_rank)
        self.register_buffer("expert_group", torch.arange(cfg.n_experts) // cfg.experts_per_group,
                             persistent=False)

    def allowed_experts(self, scores: Tensor, modality_ids: Tensor) -> Tensor:
        """(N, E) bool: the experts each token may use after level-1 routing."""
        n, e = scores.shape
        if self.mode == "modality":
            return self.expert_group[None, :] == modality_ids[:, None]
        if self.mode == "learned" and self.n_groups > 1:
            per_group = scores.view(n, self.n_groups, e // self.n_groups)
            best = per_group.topk(min(2, per_group.shape[-1]), dim=-1).values.sum(-1)  # (N, G)
            keep = best.topk(self.topk_groups, dim=-1).indices
            groups = torch.zeros(n, self.n_groups, dtype=torch.bool, device=scores.device)
            groups.scatter_(1, keep, True)
            return groups[:, self.expert_group]
        return torch.ones(n, e, dtype=torch.bool, device=scores.device)

    def forward(self, x: Tensor, modality_ids: Tensor, bias: Tensor | None = None) -> RoutingDecision:
        """x (N, d), modality_ids (N,) int64, bias (E,) selection-only balancing bias."""
        logits = self.lora(x)
        if logits.dtype in (torch.float16, torch.bfloat16):  # route in fp32 under autocast
            logits = logits.float()
        full = logits.softmax(-1)
        select_base = full if bias is None else full + bias
        allowed = self.allowed_experts(select_base, modality_ids)
        if self.mode == "modality":
            probs = logits.masked_fill(~allowed, float("-inf")).softmax(-1)
        else:
            probs = full
        select = probs if bias is None else probs + bias
        experts = select.masked_fill(~allowed, float("-inf")).topk(self.top_k, dim=-1).indices
        gates = probs.gather(1, experts)
        if self.top_k > 1:  # with k = 1 the raw probability is kept so the router gets a gradient
            gates = gates / gates.sum(-1, keepdim=True).clamp_min(1e-9)
        return RoutingDecision(experts, gates, probs * allowed, allowed)
