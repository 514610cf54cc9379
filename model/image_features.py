"""Engineered features of weld images: what the weld gradient-boosting baselines read and, with
the weld task option ``structured``, the MoE's structured feature tokens.

Colour histograms, channel statistics and gradient-energy statistics on a 4 x 4 grid: a cheap
texture descriptor for weld beads and spatter.
"""

from __future__ import annotations

import numpy as np

_CHANNELS = ("r", "g", "b")


def image_features(images: np.ndarray, bins: int = 8) -> np.ndarray:
    """(N, 3, H, W) uint8 -> (N, 3 * bins + 24); :func:`image_feature_names` names the columns."""
    x = images.astype(np.float32) / 255.0
    hist = np.stack([np.stack([np.histogram(img[c], bins=bins, range=(0, 1))[0] for c in range(3)])
                     for img in x]).reshape(len(x), -1) / (x.shape[2] * x.shape[3])
    gray = x.mean(1)
    gy, gx = np.gradient(gray, axis=(1, 2))
    grad = np.sqrt(gx**2 + gy**2)
    n, h, w = grad.shape
    cells = grad[:, : h // 4 * 4, : w // 4 * 4].reshape(n, 4, h // 4, 4, w // 4).mean((2, 4)).reshape(n, -1)
    stats = np.concatenate([x.mean((2, 3)), x.std((2, 3)), grad.mean((1, 2))[:, None],
                            grad.std((1, 2))[:, None]], axis=1)
    return np.concatenate([hist, stats, cells], axis=1).astype(np.float32)


def image_feature_names(bins: int = 8) -> tuple[str, ...]:
    """The column names of :func:`image_features`, in its order."""
    hist = [f"hist_{c}{b}" for c in _CHANNELS for b in range(bins)]
    stats = [f"mean_{c}" for c in _CHANNELS] + [f"sd_{c}" for c in _CHANNELS] + ["grad_mean", "grad_sd"]
    cells = [f"grad_cell_{r}{c}" for r in range(4) for c in range(4)]
    return (*hist, *stats, *cells)
