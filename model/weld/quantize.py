"""Int8 weight storage for weld checkpoints (weight-only, per output channel, symmetric).

Convolution weights are rounded to ``q * scale`` with ``q`` in -127..127 and one float32 scale
per output channel; the network then computes in float32 with those rounded weights. The model
is evaluated *after* rounding, so its reported metrics are those of what is shipped. Storage
halves against float16 (a YOLO11n checkpoint drops from ~5.3 MB to ~2.7 MB).
"""

from __future__ import annotations

import torch

SCALE_SUFFIX = ".__int8_scale__"
MIN_ELEMENTS = 256  # small tensors (e.g. the fixed DFL projection) stay float


def _quantizable(name: str, tensor: torch.Tensor) -> bool:
    return tensor.is_floating_point() and tensor.ndim == 4 and tensor.numel() >= MIN_ELEMENTS


def _round(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(q int8, scale float32 per output channel) for a (O, I, kH, kW) weight."""
    peak = weight.detach().abs().amax(dim=(1, 2, 3)).float()
    scale = torch.where(peak > 0, peak / 127.0, torch.ones_like(peak))
    q = torch.round(weight.detach().float() / scale.view(-1, 1, 1, 1)).clamp(-127, 127)
    return q.to(torch.int8), scale


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale.view(-1, 1, 1, 1)


def quantize_state(state: dict[str, torch.Tensor],
                   ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Round every convolution weight of ``state`` to int8 levels; return it and the scales."""
    out, scales = dict(state), {}
    for name, tensor in state.items():
        if _quantizable(name, tensor):
            q, scale = _round(tensor)
            out[name] = dequantize(q, scale)
            scales[name] = scale
    return out, scales


def pack_state(state: dict[str, torch.Tensor], scales: dict[str, torch.Tensor] | None,
               ) -> dict[str, torch.Tensor]:
    """Tensors to store: int8 + scale where ``scales`` has the name, float16 otherwise."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        tensor = tensor.detach().cpu()
        if scales and name in scales:
            scale = scales[name].float().cpu()
            q = torch.round(tensor.float() / scale.view(-1, 1, 1, 1)).clamp(-127, 127)
            out[name], out[name + SCALE_SUFFIX] = q.to(torch.int8).contiguous(), scale.contiguous()
        else:
            out[name] = (tensor.to(torch.float16) if tensor.is_floating_point() else tensor).contiguous()
    return out


def unpack_state(stored: dict[str, torch.Tensor],
                 ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """Inverse of :func:`pack_state`: float32 state dict and the int8 scales, if any."""
    scales = {name[: -len(SCALE_SUFFIX)]: t for name, t in stored.items()
              if name.endswith(SCALE_SUFFIX)}
    state = {}
    for name, tensor in stored.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        if name in scales:
            state[name] = dequantize(tensor, scales[name])
        else:
            state[name] = tensor.float() if tensor.is_floating_point() else tensor
    return state, scales or None
