"""int8 dynamic quantisation for CPU scoring.

Every ``nn.Linear`` with at least ``min_weights`` weights (experts, attention QKV/output
projections, fusion, adapters) gets int8 weights and dynamically quantised activations
(fbgemm/x86 kernels). Smaller layers — the per-head gates (d -> heads) and most task heads — stay
fp32: quantising their activations costs more than the int8 matmul saves. The LoRA router keeps
fp32 too (its A/B are plain parameters), so routing decisions do not flip under quantisation.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from plantpulse.model.moe.network import PlantPulseModel


def quantize_for_cpu(model: PlantPulseModel, min_weights: int = 16_384) -> PlantPulseModel:
    """An int8 dynamically quantised copy of ``model`` for CPU inference (the input is unchanged)."""
    engines = torch.backends.quantized.supported_engines
    for engine in ("x86", "fbgemm"):
        if engine in engines:
            torch.backends.quantized.engine = engine
            break
    clone = copy.deepcopy(model).cpu().eval()
    with warnings.catch_warnings():
        # torch.ao.quantization is marked deprecated in favour of torchao; it still works and
        # torchao is not a dependency of PlantPulse.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        qconfig = torch.ao.quantization.default_dynamic_qconfig
        spec = {name: qconfig for name, module in clone.named_modules()
                if isinstance(module, nn.Linear) and module.weight.numel() >= min_weights}
        return torch.ao.quantization.quantize_dynamic(clone, spec, dtype=torch.qint8)
