"""The model's one typed, frozen configuration and its presets.

Every size of the network comes from :class:`ModelConfig`; nothing is typed twice. Unknown keys
are rejected (a typo fails loudly) and constraints are declared as data. Presets: ``tiny`` (tests
and the CPU budget: 12 experts, 4 per modality group, top-2), ``default`` (a GPU: 256 wide,
6 layers, 24 experts, 8 per modality group, top-2) and ``large`` (the seed design: 1280 wide,
24 layers, 16 experts top-4 in learned groups).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from plantpulse.data.core.errors import ConfigError, UnknownNameError

MODALITIES: tuple[str, ...] = ("sensor", "image", "text")
TaskKind = Literal["classification", "multilabel", "rul", "anomaly"]
_TASK_NAME = re.compile(r"^[a-z0-9_]+(:[a-z0-9_]+)?$")


class TaskSpec(BaseModel):
    """One prediction task: its head kind, its classes, and the asset type it belongs to.

    Names are ``<task>:<asset_type>``, e.g. ``rul:turbofan`` or ``fault:bearing``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(..., min_length=1, max_length=64)
    kind: TaskKind
    classes: tuple[str, ...] = ()
    rul_cap: float = Field(125.0, gt=0, description="RUL targets are clipped to [0, rul_cap]")

    @model_validator(mode="after")
    def _check(self) -> TaskSpec:
        if not _TASK_NAME.match(self.name):
            msg = f"task name must look like 'fault:bearing' (lower case, digits, _). Got {self.name!r}."
            raise ValueError(msg)
        needs_classes = self.kind in ("classification", "multilabel")
        if needs_classes and len(self.classes) < 2:
            msg = f"task {self.name!r} of kind {self.kind} needs at least 2 classes. Got {self.classes}."
            raise ValueError(msg)
        if not needs_classes and self.classes:
            msg = f"task {self.name!r} of kind {self.kind} takes no classes. Got {self.classes}."
            raise ValueError(msg)
        return self

    @property
    def asset_type(self) -> str:
        """The part after ``:`` (``turbofan`` in ``rul:turbofan``), or ``""``."""
        return self.name.partition(":")[2]


class ModelConfig(BaseModel):
    """Sizes and switches of the multimodal MoE network. Shapes in docs/model.md."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # backbone
    d_model: int = Field(256, ge=8, description="shared token width")
    n_layers: int = Field(6, ge=1)
    n_heads: int = Field(8, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    # mixture of experts (ffn="dense" swaps every MoE layer for one FFN with the same active size)
    ffn: Literal["moe", "dense"] = "moe"
    n_experts: int = Field(12, ge=1, description="routed experts per layer")
    n_shared_experts: int = Field(1, ge=0, description="always-on experts per layer")
    expert_hidden: int = Field(256, ge=1, description="hidden width of one (fine-grained) expert")
    top_k: int = Field(2, ge=1, description="routed experts per token")
    n_groups: int = Field(3, ge=1, description="expert groups (level 1 of the hierarchy)")
    group_routing: Literal["none", "modality", "learned"] = "modality"
    topk_groups: int = Field(1, ge=1, description="groups a token may use when group_routing=learned")
    router_rank: int = Field(4, ge=1, description="rank r of the LoRA router A(d,r)·B(r,E)")
    capacity_factor: float | None = Field(1.25, gt=0, description="training; None = no limit")
    eval_capacity_factor: float | None = Field(None, gt=0, description="inference; None = no limit")
    balance: Literal["aux", "bias", "none"] = "aux"
    aux_loss_weight: float = Field(0.01, ge=0.0)
    bias_update_rate: float = Field(1e-3, ge=0.0, description="DeepSeek-V3 bias step γ")
    # sparse gated attention
    window: int = Field(32, ge=1, description="local attention radius in tokens")
    n_global_tokens: int = Field(1, ge=1, description="summary tokens per modality, seen by all")
    head_gate_threshold: float = Field(0.05, ge=0.0, lt=1.0, description="skip heads below it")
    # modalities
    patch_len: int = Field(8, ge=1, description="sensor samples per patch token")
    channel_buckets: int = Field(256, ge=1, description="hashed embeddings for channel names "
                                 "outside channel_vocab (the fallback)")
    channel_vocab: tuple[str, ...] = Field((), description="known channel names (canonical: lower "
                                           "case, single spaces), one embedding each; set by the "
                                           "training job from every asset type's channel list")
    waveform_bands: int = Field(0, ge=0, description="log band-power spectral tokens for high-rate "
                                "sensors (0 = off: every sensor uses time patches)")
    envelope_bands: int = Field(0, ge=0, description="bands of the envelope spectrum (0 = none)")
    waveform_band_group: int = Field(8, ge=1, description="bands per spectral token")
    waveform_min_rate_hz: float = Field(1000.0, gt=0, description="sensors sampled at least this "
                                        "fast are embedded as spectra, slower ones as time patches")
    envelope_max_hz: float = Field(1000.0, gt=0, description="upper edge of the envelope bands")
    image_size: int = Field(64, ge=8)
    image_channels: int = Field(3, ge=1)
    image_patch: int = Field(8, ge=4, description="pixels per image token side (stem stride 4)")
    image_norm: bool = Field(False, description="standardise pixels and layer-normalise the stem's "
                             "tokens, so image content is not drowned by the position encoding")
    window_summary_tokens: bool = Field(False, description="one more token per slow sensor channel "
                                        "from its window's last value, mean, sd and slope (a weight "
                                        "per channel and statistic)")
    feature_tokens: bool = Field(False, description="structured features (ModelInput.features) "
                                 "as one token each, with a weight and bias per feature id; set by "
                                 "the training job when its data carries features")
    feature_frequencies: int = Field(0, ge=0, le=64, description="periodic encoding of each "
                                     "structured feature: k learned frequencies, their sine and "
                                     "cosine, a linear map and ReLU per feature (Gorishniy et al., "
                                     "2022); 0 = the linear value · w + b")
    feature_frequency_scale: float = Field(0.1, gt=0, description="sd of the initial frequencies "
                                           "of the periodic encoding (features are standardised)")
    feature_path: int = Field(0, ge=0, le=1024, description="width of the structured-feature "
                              "path: an MLP over the feature vector whose output is added to the "
                              "fused vector before the task heads, beside the feature tokens "
                              "(needs feature_tokens; 0 = tokens only)")
    feature_path_bins: int = Field(0, ge=0, le=64, description="the structured-feature path also "
                                   "reads each feature as a piecewise-linear encoding over this many "
                                   "bins (edges at standard-normal quantiles of the standardised "
                                   "value; Gorishniy et al., 2022), so its first layer can place a "
                                   "threshold anywhere; 0 = the value only")
    summary_path: int = Field(0, ge=0, le=1024, description="width of the window-summary path: each "
                              "slow sensor channel's last value, mean, sd and slope, an MLP, added "
                              "before the task heads (0 = none)")
    bag_paths: tuple[Literal["sensor", "image", "text"], ...] = Field(
        (), description="modalities whose embedded content tokens, averaged, also reach the heads "
                        "through an MLP added before them (a bag of words for text, a global "
                        "average of the stem's grid for images); () = none")
    bag_path_width: int = Field(128, ge=1, le=1024, description="hidden width of each bag path")
    vocab_size: int = Field(4096, ge=16, description="hashing tokenizer buckets")
    max_text_len: int = Field(48, ge=4)
    text_subword_buckets: int = Field(0, ge=0, description="hashed character n-gram buckets added to "
                                      "each word's embedding (0 = words only)")
    # fusion and decoding
    fusion_top_k: int = Field(2, ge=1, description="modalities each summary token attends to")
    adapter: Literal["bottleneck", "lora"] = "bottleneck"
    adapter_dim: int = Field(64, ge=1)
    tasks: tuple[TaskSpec, ...] = ()
    # runtime switches
    grad_checkpointing: bool = False
    early_exit_threshold: float | None = Field(None, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        problems = []
        if self.d_model % self.n_heads:
            problems.append(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.n_experts % self.n_groups:
            problems.append(f"n_experts ({self.n_experts}) must be divisible by n_groups ({self.n_groups})")
        if self.group_routing == "modality" and self.n_groups != len(MODALITIES):
            problems.append(f"group_routing='modality' needs n_groups={len(MODALITIES)} (one per "
                            f"modality: {', '.join(MODALITIES)}); got {self.n_groups}")
        reachable = self.experts_per_token_pool
        if self.top_k > reachable:
            problems.append(f"top_k ({self.top_k}) exceeds the {reachable} experts a token can reach")
        if self.topk_groups > self.n_groups:
            problems.append(f"topk_groups ({self.topk_groups}) exceeds n_groups ({self.n_groups})")
        if self.image_size % self.image_patch or self.image_patch % 4:
            problems.append(f"image_patch ({self.image_patch}) must be a multiple of 4 dividing "
                            f"image_size ({self.image_size})")
        vocab = [" ".join(n.lower().split()) for n in self.channel_vocab]
        if len(set(vocab)) != len(vocab) or vocab != list(self.channel_vocab):
            problems.append("channel_vocab must hold distinct canonical names (lower case, single "
                            "spaces); build it with plantpulse.model.moe.channels.vocabulary")
        if self.envelope_bands and not self.waveform_bands:
            problems.append("envelope_bands needs waveform_bands > 0 (the envelope tokens belong to "
                            "the spectral sensor embedding)")
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names):
            problems.append(f"task names must be unique; got {names}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def experts_per_group(self) -> int:
        return self.n_experts // self.n_groups

    @property
    def experts_per_token_pool(self) -> int:
        """How many routed experts one token can choose from after group routing."""
        if self.group_routing == "modality":
            return self.experts_per_group
        if self.group_routing == "learned":
            return self.experts_per_group * self.topk_groups
        return self.n_experts

    def task(self, name: str) -> TaskSpec:
        for spec in self.tasks:
            if spec.name == name:
                return spec
        known = ", ".join(t.name for t in self.tasks) or "none"
        raise UnknownNameError(f"Unknown task '{name}'. Available: {known}.")

    def with_tasks(self, tasks: tuple[TaskSpec, ...] | list[TaskSpec]) -> ModelConfig:
        """A copy with ``tasks`` appended (names must be new)."""
        return ModelConfig.model_validate({**self.to_dict(), "tasks": [*self.tasks, *tasks]})

    def replace(self, **changes: Any) -> ModelConfig:
        """A validated copy with ``changes`` applied."""
        return from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# Every preset routes for real: a token chooses among more experts than it uses (4 of a modality
# group's experts for tiny, 8 for default, 16 reachable for large), and waveforms are embedded as
# spectra, and image tokens are normalised. The field defaults above describe checkpoints from
# before these choices, so those still load; new models get the presets' values.
_CURRENT: dict[str, Any] = dict(waveform_bands=64, envelope_bands=32, waveform_band_group=8, image_norm=True)
_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        d_model=32, n_layers=2, n_heads=4, n_experts=12, n_shared_experts=1, expert_hidden=32,
        top_k=2, n_groups=3, router_rank=2, window=8, patch_len=4, channel_buckets=64,
        image_size=32, image_patch=8, vocab_size=512, max_text_len=24, adapter_dim=8, **_CURRENT,
    ),
    "default": dict(n_experts=24, expert_hidden=128, top_k=2, dropout=0.1, **_CURRENT),
    "large": dict(
        d_model=1280, n_layers=24, n_heads=20, n_experts=16, n_shared_experts=1,
        expert_hidden=640, top_k=4, n_groups=4, group_routing="learned", topk_groups=2,
        router_rank=8, window=64, n_global_tokens=2, patch_len=16, image_size=128,
        image_patch=16, vocab_size=32768, max_text_len=64, adapter_dim=256, **_CURRENT,
    ),
}
PRESET_NAMES: tuple[str, ...] = tuple(_PRESETS)


def from_dict(values: dict[str, Any]) -> ModelConfig:
    """Validate ``values`` into a config; errors name the field and the remedy."""
    try:
        return ModelConfig.model_validate(values)
    except ValidationError as err:
        msg = f"Invalid model config:\n{err}"
        raise ConfigError(msg) from err


def preset(name: str, **overrides: Any) -> ModelConfig:
    """The named preset with ``overrides`` applied, e.g. ``preset("tiny", n_layers=3)``."""
    if name not in _PRESETS:
        msg = f"Unknown model preset '{name}'. Available: {', '.join(PRESET_NAMES)}."
        raise UnknownNameError(msg)
    return from_dict({**_PRESETS[name], **overrides})
