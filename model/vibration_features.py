"""Engineered features of vibration windows: what the gradient-boosting baseline reads, and what
the MoE reads as structured feature tokens with the CWRU task option ``structured``.

Time-domain statistics, band energies of the spectrum (absolute and relative to the window's
total power, which varies with load) and of the envelope spectrum's low band, where bearing fault
frequencies show up as lines.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import hilbert
from scipy.stats import kurtosis, skew

STATISTICS: tuple[str, ...] = ("log_rms", "kurtosis", "skew", "crest", "shape", "ptp_over_rms")


def _band_energies(power: np.ndarray, n_bands: int) -> np.ndarray:
    """(N, F, C) power spectrum -> (N, n_bands, C) log mean power per equal-width band."""
    bands = np.array_split(np.arange(power.shape[1]), n_bands)
    return np.log(np.stack([power[:, b].mean(1) for b in bands], axis=1) + 1e-8)


def vibration_features(windows: np.ndarray, spectrum_bands: int = 32, envelope_bands: int = 16,
                       envelope_bins: int = 96) -> np.ndarray:
    """(N, T, C) vibration windows -> (N, F), F = C * (6 + 2 * spectrum_bands + 2 * envelope_bands);
    :func:`vibration_feature_names` names the columns."""
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


def vibration_feature_names(channels: tuple[str, ...], spectrum_bands: int = 32,
                            envelope_bands: int = 16) -> tuple[str, ...]:
    """The column names of :func:`vibration_features` for ``channels``, in its order
    (each block is (band, channel) flattened band-major)."""
    def block(prefix: str, bands: int) -> list[str]:
        return [f"{c}:{prefix}{b}" for b in range(bands) for c in channels]

    stats = [f"{c}:{s}" for s in STATISTICS for c in channels]
    return (*stats, *block("band", spectrum_bands), *block("band_rel", spectrum_bands),
            *block("env", envelope_bands), *block("env_rel", envelope_bands))
