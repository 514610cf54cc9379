"""The assembled network: ``embed`` -> ``encode`` -> ``fuse`` -> ``heads``, returning ModelOutput.

Shapes for a batch of B samples (d = d_model, G = n_global_tokens, M = 3 modality slots):
embed: modality -> (B, G + N_m, d) tokens and (B, G + N_m) validity; encode: the same shapes after
``n_layers`` blocks; fuse: (B, M, d) summaries -> pooled (B, d); shallow: plus the (B, d) outputs of the shallow paths the
config has (structured features, window summaries, bags); heads: task -> HeadOutput.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from plantpulse.data.core.errors import UnknownNameError
from plantpulse.model.moe.batch import ModelInput
from plantpulse.model.moe.channels import ChannelIndex
from plantpulse.model.moe.config import ModelConfig, TaskSpec
from plantpulse.model.moe.layers.embeddings import DynamicEmbedding, ModalityTokens, channel_ids
from plantpulse.model.moe.layers.encoder import EncoderBlock
from plantpulse.model.moe.layers.experts import HierarchicalMoELayer, RouterStats
from plantpulse.model.moe.layers.fusion import FusionOutput, SparseAttentionFusion, stack_summaries
from plantpulse.model.moe.layers.heads import HeadOutput, TaskAdaptiveDecoder
from plantpulse.model.moe.layers.spectral import uses_waveform
from plantpulse.model.moe.layers.structured import BagPath, StructuredPath, SummaryPath


@dataclass(frozen=True, slots=True)
class Encoded:
    """seqs: modality -> (B, G + N_m, d); valid alike; per-layer router stats; summed aux loss."""

    seqs: dict[str, Tensor]
    valid: dict[str, Tensor]
    aux_loss: Tensor
    balance_loss: Tensor
    router: tuple[RouterStats, ...]
    exit_layer: int
    active_heads: tuple[dict[str, tuple[int, ...]], ...]


@dataclass(frozen=True, slots=True)
class ModelOutput:
    """What one forward pass returns.

    tasks: task name -> ClassOutput | RULDistribution | AnomalyOutput; pooled (B, d);
    modality_shares (B, 3) fusion weights over (sensor, image, text); aux_loss: weighted balance
    loss to add to the training loss (0 unless balance='aux'); balance_loss: mean f·P over layers
    (1.0 = uniform); router: per-layer RouterStats; exit_layer: blocks run (early exit);
    embedded / encoded: per-modality tokens for pre-training objectives.
    """

    tasks: dict[str, HeadOutput]
    pooled: Tensor
    modality_shares: Tensor
    aux_loss: Tensor
    balance_loss: Tensor
    router: tuple[RouterStats, ...]
    exit_layer: int
    embedded: dict[str, ModalityTokens] = field(repr=False)
    encoded: Encoded = field(repr=False)

    def expert_shares(self) -> Tensor | None:
        """(B, E) fraction of each sample's expert assignments per expert, averaged over layers."""
        loads = [s.sample_load for s in self.router if s.sample_load is not None]
        if not loads:
            return None
        total = torch.stack(loads).float().sum(0)
        return total / total.sum(-1, keepdim=True).clamp_min(1.0)


class PlantPulseModel(nn.Module):
    """The multimodal hierarchical-MoE network. Build from a :class:`ModelConfig`."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embedding = DynamicEmbedding(cfg)
        self.blocks = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.n_layers))
        self.final_norm = nn.LayerNorm(cfg.d_model)
        self.fusion = SparseAttentionFusion(cfg)
        self.decoder = TaskAdaptiveDecoder(cfg)
        self.structured = StructuredPath(cfg) if cfg.feature_tokens and cfg.feature_path else None
        self.summary_path = SummaryPath(cfg) if cfg.summary_path else None
        self.bags = nn.ModuleDict({m: BagPath(cfg) for m in cfg.bag_paths})

    # ---- the four named stages -------------------------------------------------------------
    def embed(self, batch: ModelInput, token_masks: dict[str, Tensor] | None = None
              ) -> dict[str, ModalityTokens]:
        return self.embedding(batch, token_masks)

    def encode(self, tokens: dict[str, ModalityTokens]) -> Encoded:
        seqs = {m: t.tokens for m, t in tokens.items()}
        valid = {m: t.valid for m, t in tokens.items()}
        aux, balance, stats, heads = [], [], [], []
        exit_layer = 0
        for block in self.blocks:
            previous = seqs
            out = block(seqs, valid, self.cfg.n_global_tokens)
            seqs, exit_layer = out.seqs, exit_layer + 1
            aux.append(out.aux_loss)
            balance.append(out.balance_loss)
            heads.append(out.active_heads)
            if out.stats is not None:
                stats.append(out.stats)
            if self._can_exit(previous, seqs, tokens):
                break
        seqs = {m: self.final_norm(x) for m, x in seqs.items()}
        return Encoded(seqs, valid, torch.stack(aux).sum(), torch.stack(balance).mean(),
                       tuple(stats), exit_layer, tuple(heads))

    def fuse(self, encoded: Encoded, tokens: dict[str, ModalityTokens]) -> FusionOutput:
        batch = next(iter(encoded.seqs.values())).shape[0]
        present = {m: t.present for m, t in tokens.items()}
        summaries, flags = stack_summaries(encoded.seqs, present, self.cfg.n_global_tokens, batch,
                                           self.cfg.d_model)
        return self.fusion(summaries, flags)

    def shallow(self, batch: ModelInput, tokens: dict[str, ModalityTokens], pooled: Tensor) -> Tensor:
        """``pooled`` plus the output of each shallow path the config has and the batch feeds
        (``model/moe/layers/structured.py``); a sample without a path's modality gets nothing from it."""
        if self.structured is not None and batch.features is not None:
            assert batch.feature_ids is not None  # checked by ModelInput.validate
            pooled = pooled + self.structured(batch.features, batch.feature_ids)
        if self.summary_path is not None and batch.sensor is not None \
                and not uses_waveform(self.cfg, batch.sensor_rate_hz):
            values, channels, mask = self.embedding.sensor_in_index_order(batch)
            present = batch.present("sensor")[:, None].to(pooled.dtype)
            pooled = pooled + self.summary_path(values, channels, mask) * present
        for modality, path in self.bags.items():
            if modality in tokens:
                t, g = tokens[modality], tokens[modality].n_global
                pooled = pooled + path(t.tokens[:, g:], t.valid[:, g:]) * t.present[:, None].to(pooled.dtype)
        return pooled

    def heads(self, pooled: Tensor, tasks: tuple[str, ...] | None = None) -> dict[str, HeadOutput]:
        if tasks is not None:
            unknown = [t for t in tasks if t not in self.decoder.specs]
            if unknown:
                known = ", ".join(self.decoder.specs) or "none"
                raise UnknownNameError(f"Unknown task '{unknown[0]}'. Available: {known}.")
        return self.decoder(pooled, tasks)

    def forward(self, batch: ModelInput, tasks: tuple[str, ...] | None = None,
                token_masks: dict[str, Tensor] | None = None) -> ModelOutput:
        """Run all stages; ``tasks`` limits the heads evaluated (default: all)."""
        batch.validate()
        tokens = self.embed(batch, token_masks)
        encoded = self.encode(tokens)
        fused = self.fuse(encoded, tokens)
        pooled = self.shallow(batch, tokens, fused.pooled)
        return ModelOutput(self.heads(pooled, tasks), pooled, fused.shares,
                           encoded.aux_loss, encoded.balance_loss, encoded.router,
                           encoded.exit_layer, tokens, encoded)

    # ---- helpers ---------------------------------------------------------------------------
    def _can_exit(self, previous: dict[str, Tensor], current: dict[str, Tensor],
                  tokens: dict[str, ModalityTokens]) -> bool:
        """Early exit (inference only): stop when no present summary token moved any more."""
        threshold = self.cfg.early_exit_threshold
        if threshold is None or self.training:
            return False
        for modality, x in current.items():
            present = tokens[modality].present
            if not bool(present.any()):
                continue
            sim = torch.cosine_similarity(x[present, 0], previous[modality][present, 0], dim=-1).detach()
            if float(sim.min()) < threshold:
                return False
        return True

    def add_task(self, spec: TaskSpec) -> None:
        """Attach a new adapter + head (the backbone is untouched); the config records it."""
        self.decoder.add_task(spec)
        self.cfg = self.cfg.with_tasks([spec])

    def freeze_backbone(self, frozen: bool = True) -> None:
        """Freeze (or unfreeze) everything but the task adapters and heads."""
        for name, param in self.named_parameters():
            if not name.startswith("decoder."):
                param.requires_grad_(not frozen)

    def update_router_biases(self) -> None:
        """DeepSeek-V3 bias step for every MoE layer; call after each optimiser step."""
        for module in self.modules():
            if isinstance(module, HierarchicalMoELayer):
                module.update_bias()

    @property
    def channel_index(self) -> ChannelIndex:
        return ChannelIndex(self.cfg.channel_vocab, self.cfg.channel_buckets)

    def channel_ids(self, names: list[str] | tuple[str, ...]) -> Tensor:
        """Ids (C,) for sensor channel names: the vocabulary index, the name hash as a fallback.

        Models with a vocabulary refuse names that would share an embedding (ChannelCollisionError);
        models from before it hash names as they were trained."""
        if not self.cfg.channel_vocab:
            return channel_ids(names, self.cfg.channel_buckets)
        return self.channel_index.ids(names)

    def parameter_counts(self) -> dict[str, int]:
        """total, routed-expert and active-per-token parameter counts."""
        total = sum(p.numel() for p in self.parameters())
        routed = 0
        active_routed = 0
        for module in self.modules():
            if isinstance(module, HierarchicalMoELayer):
                per_expert = sum(p.numel() for p in module.experts[0].parameters())
                routed += per_expert * module.n_experts
                active_routed += per_expert * module.top_k
        return {"total": total, "routed_experts": routed, "active": total - routed + active_routed}
