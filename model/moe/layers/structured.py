"""StructuredPath: the structured features' own route to the task heads.

Feature tokens (``FeatureEmbedding``) reach the heads only through the encoder's summary tokens
and the modality fusion: one d-wide summary per modality, shared by the window patches, the
feature tokens and the global tokens. On tabular evidence (error counts, hours since a part was
replaced, a row of machine measurements) that bottleneck is where the network loses to a
multilayer perceptron on the same numbers. This path is that perceptron: a linear map of the
feature vector (one weight vector per feature id, so any set of features in any order gives the
same result), two ReLU layers, and a zero-initialised output added to the fused vector, so a
model starts as if the path were absent and the tokens keep their part. Wide-and-deep in the
sense of Cheng et al. (2016), with the deep part being the transformer.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from plantpulse.model.moe.channels import ChannelIndex
from plantpulse.model.moe.config import ModelConfig


class StructuredPath(nn.Module):
    """(B, F) standardised features with (B, F) ids -> (B, d_model)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        width = cfg.feature_path
        self.weight = nn.Embedding(ChannelIndex(cfg.channel_vocab, cfg.channel_buckets).size, width)
        nn.init.normal_(self.weight.weight, std=1.0 / math.sqrt(width))
        self.bias = nn.Parameter(torch.zeros(width))
        self.hidden = nn.Linear(width, width)
        self.out = nn.Linear(width, cfg.d_model)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, values: Tensor, ids: Tensor) -> Tensor:
        first = torch.einsum("bf,bfw->bw", values, self.weight(ids)) + self.bias
        return self.out(torch.relu(self.hidden(torch.relu(first))))


class BagPath(nn.Module):
    """(B, N, d) embedded content tokens of one modality with (B, N) validity -> (B, d_model):
    the mean of the valid tokens (a bag of words for text, a global average of the stem's grid
    for images, before any attention), then ReLU MLP with a zero-initialised output. The shallow
    route a bag-of-words classifier or a small CNN takes, beside the transformer's."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        width = cfg.bag_path_width
        self.norm = nn.LayerNorm(cfg.d_model)
        self.hidden = nn.Linear(cfg.d_model, width)
        self.out = nn.Linear(width, cfg.d_model)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, tokens: Tensor, valid: Tensor) -> Tensor:
        weight = valid.to(tokens.dtype).unsqueeze(-1)
        mean = (tokens * weight).sum(1) / weight.sum(1).clamp_min(1.0)
        return self.out(torch.relu(self.hidden(self.norm(mean))))
