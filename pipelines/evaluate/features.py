"""Engineered features for the scikit-learn and lifelines baselines.

Every function maps the *same* model-ready samples the networks see (standardised windows from
``plantpulse.pipelines.train.tasks``) to a 2-D feature table, so baselines and networks differ only in
the model, never in the split or the preprocessing.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import hilbert
from scipy.stats import kurtosis, skew

from plantpulse.data.datasets.ai4i import FEATURES
from plantpulse.model.baseline.quantile_mlp import window_features
from plantpulse.pipelines.train.tasks.ai4i import derived_features


def rul_features(windows: np.ndarray) -> np.ndarray:
    """(N, T, C) -> (N, 4C): last value, mean, standard deviation and slope per channel."""
    return window_features(windows.astype(np.float64)).astype(np.float32)


def _band_energies(power: np.ndarray, n_bands: int) -> np.ndarray:
    """(N, F, C) power spectrum -> (N, n_bands, C) log mean power per equal-width band."""
    bands = np.array_split(np.arange(power.shape[1]), n_bands)
    return np.log(np.stack([power[:, b].mean(1) for b in bands], axis=1) + 1e-8)


def vibration_features(windows: np.ndarray, spectrum_bands: int = 32, envelope_bands: int = 16,
                       envelope_bins: int = 96) -> np.ndarray:
    """(N, T, C) vibration windows -> (N, F): time-domain statistics, band energies of the
    spectrum (absolute and relative to total power, which varies with load) and of the envelope
    spectrum's low band (bearing fault frequencies show up there as lines)."""
    x = windows.astype(np.float64)
    x = x - x.mean(1, keepdims=True)
    rms = np.sqrt((x**2).mean(1)) + 1e-12
    peak = np.abs(x).max(1)
    stats = [np.log(rms), kurtosis(x, axis=1), skew(x, axis=1), peak / rms,
             np.abs(x).mean(1) / rms, np.ptp(x, axis=1) / rms]
    taper = np.hanning(x.shape[1])[None, :, None]
    power = np.abs(np.fft.rfft(x * taper, axis=1)) ** 2
    spectrum = _band_energies(power, spectrum_bands)
    relative = spectrum - np.log(power.mean(1) + 1e-8)[:, None, :]
    envelope = np.abs(hilbert(x, axis=1))
    envelope = envelope - envelope.mean(1, keepdims=True)
    env_power = np.abs(np.fft.rfft(envelope * taper, axis=1))[:, 1:envelope_bins + 1] ** 2
    env = _band_energies(env_power, envelope_bands)
    env_rel = env - np.log(env_power.mean(1) + 1e-8)[:, None, :]
    flat = [np.stack(stats, axis=1), spectrum, relative, env, env_rel]
    return np.concatenate([f.reshape(len(x), -1) for f in flat], axis=1).astype(np.float32)


def tabular(windows: np.ndarray) -> np.ndarray:
    """(N, 1, C) single-row samples -> (N, C)."""
    return np.asarray(windows, dtype=np.float32).reshape(len(windows), -1)


def ai4i_features(table: np.ndarray, channels: tuple[str, ...], mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """AI4I rows (standardised) plus physics features on the original units: power (W) =
    torque · speed · 2π/60, air-process temperature difference, and tool wear × torque (the
    quantities the dataset's failure rules are written in)."""
    raw = table * std + mean
    extra = derived_features(raw[:, [channels.index(name) for name in FEATURES]])
    return np.concatenate([table, extra], axis=1).astype(np.float32)


def image_features(images: np.ndarray, bins: int = 8) -> np.ndarray:
    """(N, 3, H, W) uint8 -> colour histograms, channel statistics, gradient-energy statistics on
    a 4 x 4 grid (a cheap texture descriptor for weld beads and spatter)."""
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
