"""HierarchicalMoELayer: shared always-on experts plus routed fine-grained experts.

Dispatch is vectorised: the N·k (token, expert) assignments are sorted by expert id, so each
expert reads one contiguous slice and runs one matmul; the only Python loop is over experts.

Capacity and overflow policy: with a capacity factor ``cf`` expert e accepts at most
``ceil(cf · k · N_e / E_e)`` assignments, where N_e is the number of tokens that may reach e
(its modality's tokens under modality routing, else all tokens) and E_e the number of experts
they share. Inside an expert, first-choice assignments go first, then second choices, and so on;
ties go to the higher gate weight. Assignments past capacity are **dropped**: they add nothing,
the token keeps its residual stream and the shared experts' output, and the remaining gate
weights are not renormalised (so a drop is visible, not silently compensated).

Balancing, selectable with ``balance``:
- ``"aux"``: Switch-Transformer loss E·Σ f_e·P_e (f: fraction of assignments, not differentiable;
  P: mean router probability, differentiable), computed within each routing domain; it is 1.0
  when the load is uniform and gives the router a gradient;
- ``"bias"``: DeepSeek-V3 auxiliary-loss-free balancing; a per-expert bias added to the scores
  used for *selection* only, nudged by ±γ after each optimiser step towards the mean load
  (:meth:`HierarchicalMoELayer.update_bias`);
- ``"none"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from plantpulse.model.moe.config import MODALITIES, ModelConfig
from plantpulse.model.moe.layers.router import GroupRouter


class Expert(nn.Module):
    """A two-layer GELU feed-forward network (N, d) -> (N, d)."""

    def __init__(self, d_model: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_model, hidden)
        self.fc2 = nn.Linear(hidden, d_model)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


@dataclass(frozen=True, slots=True)
class RouterStats:
    """Load statistics of one MoE layer for one forward pass (no gradient).

    routed (E,) assignments before capacity; load (E,) assignments computed; dropped: routed-load
    total; importance (E,) mean router probability; modality_load (M, E) computed assignments per
    modality; sample_load (B, E) per sample or None; balance_loss: the f·P value (1.0 = uniform).
    """

    routed: Tensor
    load: Tensor
    dropped: int
    importance: Tensor
    modality_load: Tensor
    sample_load: Tensor | None
    balance_loss: float

    @property
    def imbalance(self) -> float:
        """max load / mean load over experts that can receive tokens (1.0 = perfect)."""
        load = self.routed.float()
        return float(load.max() / load.mean().clamp_min(1e-9))


@dataclass(frozen=True, slots=True)
class MoEOutput:
    """y (N, d); aux_loss: weighted differentiable balance loss (0 unless balance='aux')."""

    y: Tensor
    aux_loss: Tensor
    balance_loss: Tensor
    stats: RouterStats


class HierarchicalMoELayer(nn.Module):
    """Token-wise feed-forward of an encoder block; see the module docstring."""

    # buffers (registered in __init__), declared so they type as tensors rather than Tensor | Module
    expert_bias: Tensor
    pending_load: Tensor

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_experts, self.top_k = cfg.n_experts, cfg.top_k
        self.router = GroupRouter(cfg)
        self.experts = nn.ModuleList(Expert(cfg.d_model, cfg.expert_hidden) for _ in range(cfg.n_experts))
        hidden = cfg.expert_hidden * cfg.n_shared_experts
        self.shared = Expert(cfg.d_model, hidden) if cfg.n_shared_experts else None
        self.register_buffer("expert_bias", torch.zeros(cfg.n_experts))
        self.register_buffer("pending_load", torch.zeros(cfg.n_experts), persistent=False)

    def capacity(self, modality_ids: Tensor) -> Tensor | None:
        """(E,) int64 per-expert capacity, or None when capacity is unlimited."""
        cf = self.cfg.capacity_factor if self.training else self.cfg.eval_capacity_factor
        if cf is None:
            return None
        reach, sharing = self._domain_sizes(modality_ids)
        return torch.ceil(cf * self.top_k * reach.float() / sharing).long()

    def _domain_sizes(self, modality_ids: Tensor) -> tuple[Tensor, int]:
        """(E,) tokens that can reach each expert, and how many experts share those tokens."""
        n = modality_ids.shape[0]
        if self.cfg.group_routing == "modality":
            per_modality = torch.bincount(modality_ids, minlength=len(MODALITIES))
            return per_modality[self.router.expert_group], self.cfg.experts_per_group
        return torch.full((self.n_experts,), n, device=modality_ids.device), self.n_experts

    def forward(self, x: Tensor, modality_ids: Tensor, sample_ids: Tensor | None = None,
                n_samples: int = 0) -> MoEOutput:
        """x (N, d) valid tokens only; modality_ids (N,) int64; sample_ids (N,) for per-sample load."""
        n, k = x.shape[0], self.top_k
        bias = self.expert_bias if self.cfg.balance == "bias" else None
        decision = self.router(x, modality_ids, bias)
        flat_e = decision.experts.reshape(-1)
        flat_w = decision.gates.reshape(-1)
        flat_t = torch.arange(n, device=x.device).repeat_interleave(k)
        flat_s = torch.arange(k, device=x.device).repeat(n)
        routed = torch.bincount(flat_e, minlength=self.n_experts)
        cap = self.capacity(modality_ids)
        if cap is None:  # no drops possible: grouping by expert is all that is needed
            order, load = torch.argsort(flat_e, stable=True), routed
        else:  # sort by (expert, slot, -gate): contiguous per expert, in priority order
            by_weight = torch.argsort(-flat_w.detach(), stable=True)
            key = flat_e[by_weight] * k + flat_s[by_weight]
            order = by_weight[torch.argsort(key, stable=True)]
            sorted_e = flat_e[order]
            start = torch.cumsum(routed, 0) - routed
            position = torch.arange(order.numel(), device=x.device) - start[sorted_e]
            order = order[position < cap[sorted_e]]
            load = torch.minimum(routed, cap)
        y = self._run_experts(x, flat_t[order], flat_w[order], load)
        if self.shared is not None:
            y = y + self.shared(x)
        balance = self._balance_loss(decision.probs, routed, modality_ids)
        aux = balance * self.cfg.aux_loss_weight if self.cfg.balance == "aux" else balance * 0.0
        stats = self._stats(decision, routed, load, modality_ids, flat_t[order], flat_e[order],
                            sample_ids, n_samples, balance)
        if self.training and self.cfg.balance == "bias":
            self.pending_load += routed.to(self.pending_load.dtype)
        return MoEOutput(y, aux, balance, stats)

    def _run_experts(self, x: Tensor, tokens: Tensor, gates: Tensor, load: Tensor) -> Tensor:
        """Gather the kept assignments (sorted by expert), run each expert once, scatter back."""
        y = torch.zeros_like(x)
        if tokens.numel() == 0:
            return y
        chunks = torch.split(x[tokens], load.tolist())
        outs = [self.experts[e](chunk) for e, chunk in enumerate(chunks) if chunk.shape[0]]
        out = torch.cat(outs) * gates.unsqueeze(-1).to(x.dtype)
        return y.index_add(0, tokens, out)

    def _balance_loss(self, probs: Tensor, routed: Tensor, modality_ids: Tensor) -> Tensor:
        """Switch f·P summed over routing domains, weighted by their token share; 1.0 when uniform."""
        n = max(probs.shape[0], 1)
        reach, sharing = self._domain_sizes(modality_ids)
        prob_sum = probs.sum(0)  # (E,), differentiable
        terms = sharing * routed.float() * prob_sum / (self.top_k * n * reach.clamp_min(1).float())
        return terms.sum()

    def _stats(self, decision, routed, load, modality_ids, kept_t, kept_e, sample_ids,
               n_samples, balance) -> RouterStats:
        with torch.no_grad():
            e = self.n_experts
            modality_load = torch.bincount(modality_ids[kept_t] * e + kept_e,
                                           minlength=len(MODALITIES) * e).view(len(MODALITIES), e)
            sample_load = None
            if sample_ids is not None:
                sample_load = torch.bincount(sample_ids[kept_t] * e + kept_e,
                                             minlength=n_samples * e).view(n_samples, e)
            return RouterStats(
                routed=routed.detach(), load=load.detach(),
                dropped=int((routed - load).sum()), importance=decision.probs.detach().mean(0),
                modality_load=modality_load, sample_load=sample_load,
                balance_loss=float(balance.detach()),
            )

    @torch.no_grad()
    def update_bias(self) -> None:
        """DeepSeek-V3 step: raise the bias of under-loaded experts, lower over-loaded ones, by γ.

        Loads are compared with the mean of the experts sharing the same tokens (the group under
        modality routing). Call once per optimiser step; the accumulated load is then reset. A
        frozen layer (no parameter to train, e.g. a backbone under a new adapter) keeps its biases:
        its routing is part of what was frozen.
        """
        if not any(p.requires_grad for p in self.parameters()):
            self.pending_load.zero_()
            return
        if self.cfg.balance != "bias" or not bool(self.pending_load.any()):
            return
        load = self.pending_load
        if self.cfg.group_routing == "modality":
            groups = load.view(self.cfg.n_groups, -1)
            mean = groups.mean(1, keepdim=True).expand_as(groups).reshape(-1)
            active = groups.sum(1, keepdim=True).expand_as(groups).reshape(-1) > 0
        else:
            mean, active = load.mean().expand_as(load), torch.ones_like(load, dtype=torch.bool)
        step = self.cfg.bias_update_rate * torch.sign(mean - load)
        self.expert_bias += torch.where(active, step, torch.zeros_like(step))
        self.pending_load.zero_()


def capacity_for(cf: float, k: int, tokens: int, experts: int) -> int:
    """The capacity formula of the docstring, for documentation and tests."""
    return math.ceil(cf * k * tokens / experts)
