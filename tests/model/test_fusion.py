"""SparseAttentionFusion works for every subset of modalities and is sparse."""

from __future__ import annotations

import itertools

import pytest
import torch

from plantpulse.model import MODALITIES, PlantPulseModel, preset
from plantpulse.model.moe.layers.fusion import SparseAttentionFusion, topk_attention

pytestmark = pytest.mark.usefixtures("one_thread")

SUBSETS = [s for r in (1, 2, 3) for s in itertools.combinations(MODALITIES, r)]


@pytest.mark.parametrize("subset", SUBSETS, ids=["+".join(s) for s in SUBSETS])
def test_fusion_module_handles_every_subset(subset, seed):
    cfg = preset("tiny")
    fusion = SparseAttentionFusion(cfg)
    summaries = torch.randn(4, 3, cfg.d_model, requires_grad=True)
    present = torch.tensor([[m in subset for m in MODALITIES]] * 4)
    out = fusion(summaries, present)
    assert out.pooled.shape == (4, cfg.d_model) and torch.isfinite(out.pooled).all()
    absent = [i for i, m in enumerate(MODALITIES) if m not in subset]
    assert torch.all(out.shares[:, absent] == 0)
    torch.testing.assert_close(out.shares.sum(-1), torch.ones(4))
    out.pooled.sum().backward()
    assert torch.all(summaries.grad[:, absent] == 0)  # absent modalities influence nothing


@pytest.mark.parametrize("subset", SUBSETS, ids=["+".join(s) for s in SUBSETS])
def test_model_runs_on_every_subset(subset, seed, tasks, batch_factory):
    cfg = preset("tiny", tasks=tasks)
    model = PlantPulseModel(cfg)
    out = model(batch_factory(cfg, modalities=subset))
    for head in out.tasks.values():
        assert all(torch.isfinite(t).all() for t in head.tensors())


def test_per_sample_missing_modality_is_masked_not_zero_filled(seed, tasks, batch_factory):
    cfg = preset("tiny", tasks=tasks)
    model = PlantPulseModel(cfg).eval()
    batch = batch_factory(cfg, b=2, present={"image": [True, False]})
    out = model(batch)
    assert out.modality_shares[1, MODALITIES.index("image")] == 0
    # sample 1 must not depend on its (absent) pixels at all
    other = batch.with_image(batch.image.clone().index_fill_(0, torch.tensor([1]), 7.0))
    torch.testing.assert_close(model(other).pooled[1], out.pooled[1])


def test_topk_keeps_only_k_keys(seed):
    q, k, v = torch.randn(2, 1, 3, 8), torch.randn(2, 1, 3, 8), torch.randn(2, 1, 3, 8)
    _, weights = topk_attention(q, k, v, torch.ones(2, 3, dtype=torch.bool), top_k=2)
    assert torch.all((weights > 0).sum(-1) == 2)
