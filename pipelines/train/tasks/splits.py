"""Leakage-free split helpers and the per-channel standardiser, all plain numpy.

The rule everywhere: split on the unit a sample came from (engine, machine, recording segment,
source image, product) *before* windowing, then fit the standardiser on the training split only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from plantpulse.data.core.errors import InputDataError

SPLITS: tuple[str, ...] = ("train", "val", "test")


def split_groups(groups: np.ndarray, fractions: Sequence[float], seed: int,
                 stratify: np.ndarray | None = None) -> list[np.ndarray]:
    """Assign whole groups to splits; returns one boolean row mask per fraction.

    ``fractions`` must sum to 1. With ``stratify`` (one label per row; the group's first row
    counts) groups are shuffled within each label so every split sees every label when it can.
    Every group lands in exactly one split.
    """
    if not np.isclose(sum(fractions), 1.0):
        raise InputDataError(f"split fractions must sum to 1; got {list(fractions)}.")
    unique, first = np.unique(groups, return_index=True)
    rng = np.random.default_rng(seed)
    labels = stratify[first] if stratify is not None else np.zeros(len(unique))
    assignment = np.empty(len(unique), dtype=np.int64)
    bounds = np.cumsum(fractions)[:-1]
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[rng.permutation(len(members))]
        # round cut points so that small classes still reach the later splits
        cuts = np.round(bounds * len(members)).astype(int)
        assignment[members] = np.searchsorted(cuts, np.arange(len(members)), side="right")
    index = np.searchsorted(unique, groups)
    return [assignment[index] == k for k in range(len(fractions))]


def time_split(times: np.ndarray, boundaries: Sequence[np.datetime64], horizon: np.timedelta64
               ) -> list[np.ndarray]:
    """Boolean masks for consecutive time ranges ``[-inf, b0), [b0, b1), …, [b_last, inf)``.

    A sample whose look-ahead ``(t, t + horizon]`` crosses the next boundary is dropped from its
    split, so no label of one split is read from the period of the next.
    """
    edges = [np.datetime64("NaT"), *boundaries, np.datetime64("NaT")]
    masks = []
    for k in range(len(edges) - 1):
        lo, hi = edges[k], edges[k + 1]
        mask = np.ones(len(times), dtype=bool)
        if not np.isnat(lo):
            mask &= times >= lo
        if not np.isnat(hi):
            mask &= times + horizon < hi
        masks.append(mask)
    return masks


def assert_disjoint(named_groups: dict[str, np.ndarray]) -> None:
    """Raise when two splits share a group (unit, machine, source image…)."""
    names = list(named_groups)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = np.intersect1d(named_groups[a], named_groups[b])
            if len(shared):
                msg = f"splits {a} and {b} share {len(shared)} group(s), e.g. {shared[:3].tolist()}."
                raise AssertionError(msg)


@dataclass(frozen=True)
class Standardizer:
    """Per-channel (x - mean) / std, fitted on training rows only; std 0 becomes 1. Statistics
    are float64 (a float32 mean of a large constant level leaves noise that standardising blows up)."""

    channels: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, channels: Sequence[str]) -> Standardizer:
        """values (N, C) training rows."""
        values = np.asarray(values, dtype=np.float64)
        mean, std = values.mean(0), values.std(0)
        return cls(tuple(channels), mean, np.where(std < 1e-6, 1.0, std))

    def apply(self, values: np.ndarray) -> np.ndarray:
        return ((np.asarray(values, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict[str, list]:
        return {"channels": list(self.channels), "mean": self.mean.tolist(), "std": self.std.tolist()}
