"""Spectral tokens for waveforms (high-rate vibration or current), chosen from the sampling rate.

A 1,024-sample window of a 12 kHz accelerometer lasts 85 ms; cut into 8-sample time patches it
becomes 128 tokens of 0.7 ms each, none of which shows a bearing's defect frequency. What does
show it is the spectrum and, for impacts that modulate a resonance, the *envelope* spectrum —
what the gradient-boosting baseline is given. So a sensor sampled at ``waveform_min_rate_hz`` or
faster is embedded here instead of as time patches:

- **spectrum**: rFFT of each channel's (mean-removed) window, power ``|X|² / T`` averaged in
  ``waveform_bands`` equal-width bands over (0, Nyquist], then ``log1p(power / 1e-3)``;
- **envelope spectrum**: the Hilbert envelope (magnitude of the analytic signal, computed with
  ``torch.fft``), mean removed, its power spectrum averaged in ``envelope_bands`` bands over
  (0, ``envelope_max_hz``], with the same log scaling.

Every ``waveform_band_group`` consecutive bands form one token (a linear projection of the group),
so a channel gives ``ceil(waveform_bands / g) + ceil(envelope_bands / g)`` tokens, channel-major.
Each token's position is its channel's embedding plus a sinusoid of its band index and a learned
spectrum/envelope tag. The reconstruction target of a token is its own group of log band powers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from plantpulse.model.moe.config import ModelConfig

POWER_FLOOR = 1e-3  # band power (in units of the standardised signal's variance) that maps to log1p(1)


def uses_waveform(cfg: ModelConfig, rate_hz: float | None) -> bool:
    """True when a sensor sampled at ``rate_hz`` is embedded as spectra under ``cfg``."""
    return bool(cfg.waveform_bands) and rate_hz is not None and rate_hz >= cfg.waveform_min_rate_hz


def tokens_per_channel(cfg: ModelConfig) -> int:
    g = cfg.waveform_band_group
    return -(-cfg.waveform_bands // g) + -(-cfg.envelope_bands // g)


def band_matrix(n_bins: int, first: int, last: int, bands: int, device: torch.device) -> Tensor:
    """(n_bins, bands) averaging weights: band j is the mean of bins in its share of [first, last).

    Bands narrower than one bin take the bin they fall in, so no band is empty.
    """
    last = max(last, first + 1)
    edges = torch.linspace(float(first), float(last), bands + 1, device=device)
    bins = torch.arange(n_bins, device=device, dtype=torch.float32)
    inside = (bins[:, None] >= edges[None, :-1].floor()) & (bins[:, None] < edges[None, 1:].ceil())
    inside &= (bins[:, None] >= first) & (bins[:, None] < last)
    weights = inside.float()
    return weights / weights.sum(0, keepdim=True).clamp_min(1.0)


def _band_log_power(spectrum: Tensor, t: int, first: int, last: int, bands: int) -> Tensor:
    """(..., F) rFFT -> (..., bands): power |X|² / T averaged per band, then log1p(p / floor)."""
    power = spectrum.abs().square() / t
    pooled = power @ band_matrix(power.shape[-1], first, last, bands, power.device)
    return torch.log1p(pooled / POWER_FLOOR)


def spectrum_bands(x: Tensor, bands: int) -> Tensor:
    """x (B, C, T) -> (B, C, bands) log band power over (0, Nyquist]."""
    t = x.shape[-1]
    spectrum = torch.fft.rfft(x - x.mean(-1, keepdim=True), dim=-1)
    return _band_log_power(spectrum, t, 1, spectrum.shape[-1], bands)


def hilbert_envelope(x: Tensor) -> Tensor:
    """x (..., T) -> (..., T) magnitude of the analytic signal (FFT method)."""
    t = x.shape[-1]
    h = torch.zeros(t, device=x.device, dtype=x.dtype)
    h[0] = 1.0
    if t % 2 == 0:
        h[t // 2] = 1.0
        h[1:t // 2] = 2.0
    else:
        h[1:(t + 1) // 2] = 2.0
    return torch.fft.ifft(torch.fft.fft(x, dim=-1) * h, dim=-1).abs()


def envelope_bands(x: Tensor, rate_hz: float, bands: int, max_hz: float) -> Tensor:
    """x (B, C, T) -> (B, C, bands) log band power of the envelope spectrum over (0, max_hz]."""
    t = x.shape[-1]
    env = hilbert_envelope(x - x.mean(-1, keepdim=True))
    spectrum = torch.fft.rfft(env - env.mean(-1, keepdim=True), dim=-1)
    last = min(spectrum.shape[-1], int(math.floor(max_hz * t / rate_hz)) + 1)
    return _band_log_power(spectrum, t, 1, last, bands)


class WaveformSpectralEmbedding(nn.Module):
    """(B, T, C) high-rate windows -> (B, C·K, d) spectral tokens; see the module docstring."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        from plantpulse.model.moe.channels import ChannelIndex

        d, self.group = cfg.d_model, cfg.waveform_band_group
        self.bands, self.env_bands, self.env_max_hz = cfg.waveform_bands, cfg.envelope_bands, cfg.envelope_max_hz
        self.proj = nn.Linear(self.group, d)
        self.env_proj = nn.Linear(self.group, d) if self.env_bands else None
        self.channel = nn.Embedding(ChannelIndex(cfg.channel_vocab, cfg.channel_buckets).size, d)
        self.kind = nn.Embedding(2, d)  # spectrum / envelope tag

    def _groups(self, feats: Tensor) -> Tensor:
        """(B, C, bands) -> (B, C, ceil(bands / g), g), zero-padded at the top."""
        b, c, n = feats.shape
        k = -(-n // self.group)
        return F.pad(feats, (0, k * self.group - n)).view(b, c, k, self.group)

    def forward(self, values: Tensor, channels: Tensor, channel_mask: Tensor | None, rate_hz: float):
        from plantpulse.model.moe.layers.embeddings import ContentTokens, sinusoid

        b, _, c = values.shape
        x = values.transpose(1, 2).float()  # (B, C, T); FFTs in fp32 even under autocast
        parts = [self._groups(spectrum_bands(x, self.bands))]
        tokens = [self.proj(parts[0].to(self.proj.weight.dtype))]
        tags = [self.kind.weight[0].expand(parts[0].shape[2], -1)]
        if self.env_proj is not None:
            env = self._groups(envelope_bands(x, rate_hz, self.env_bands, self.env_max_hz))
            parts.append(env)
            tokens.append(self.env_proj(env.to(self.env_proj.weight.dtype)))
            tags.append(self.kind.weight[1].expand(env.shape[2], -1))
        k = sum(p.shape[2] for p in parts)
        d = self.proj.out_features
        band_pos = torch.cat([sinusoid(torch.arange(p.shape[2], device=values.device), d) for p in parts])
        position = self.channel(channels)[:, :, None, :] + (band_pos + torch.cat(tags))  # (B, C, K, d)
        valid = torch.ones(b, c, k, dtype=torch.bool, device=values.device)
        if channel_mask is not None:
            valid = valid & channel_mask[:, :, None].to(torch.bool)
        return ContentTokens(torch.cat(tokens, 2).reshape(b, c * k, d), position.reshape(b, c * k, d),
                             valid.reshape(b, c * k), torch.cat(parts, 2).reshape(b, c * k, self.group))
