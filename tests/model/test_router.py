"""The LoRA router: parameter count against a dense router, and its logits."""

from __future__ import annotations

import pytest
import torch

from plantpulse.model import preset
from plantpulse.model.moe.layers.router import LoRARouter, dense_router_parameter_count

pytestmark = pytest.mark.usefixtures("one_thread")


def test_lora_router_parameter_reduction_at_default_width(capsys):
    cfg = preset("default")
    router = LoRARouter(cfg.d_model, cfg.n_experts, cfg.router_rank)
    lora = sum(p.numel() for p in router.parameters())
    dense = dense_router_parameter_count(cfg.d_model, cfg.n_experts)
    assert lora == LoRARouter.parameter_count(cfg.d_model, cfg.n_experts, cfg.router_rank)
    assert lora == cfg.router_rank * (cfg.d_model + cfg.n_experts)
    reduction = dense / lora
    with capsys.disabled():
        print(f"\nLoRA router at d={cfg.d_model}, E={cfg.n_experts}, r={cfg.router_rank}: "
              f"{lora} vs dense {dense} parameters ({reduction:.2f}x fewer)")
    assert reduction > 2.5


def test_lora_router_logits_are_low_rank(seed):
    router = LoRARouter(64, 12, rank=3)
    logits = router(torch.randn(200, 64))
    assert logits.shape == (200, 12)
    assert torch.linalg.matrix_rank(logits) <= 3
