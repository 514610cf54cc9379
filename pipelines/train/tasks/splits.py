"""Leakage-free split helpers and the per-channel standardiser, all plain numpy.

The rule everywhere: split on the unit a sample came from (engine, machine, recording segment,
source image, product) *before* windowing, then fit the standardiser on the training split only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from plantpulse.data.core.errors import InputDataError
from plantpulse.model.moe.training.data import TaskSplits
from plantpulse.pipelines.train.tasks.base import TaskBundle

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


def hold_out_validation(bundle: TaskBundle, share: float, seed: int) -> TaskBundle:
    """``bundle`` with a ``share`` of its validation groups moved to the test split, and its own
    test rows dropped: the option ``holdout`` of every builder (``build_bundle``).

    A recipe comparison reads the validation figure of the epoch that early stopping chose on the
    same rows, which flatters whatever swings most from epoch to epoch. Held-out validation groups
    are never seen by early stopping, and the dataset's test rows are not in the bundle at all, so
    a run with this option can be scored on them (its "test" metrics) without reading test data.
    Whole groups move (a unit's rows stay together), the same groups for every task of the bundle,
    stratified by class when the first task with one label per row is a classification task.
    """
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
        raise InputDataError(f"holdout {share!r}: give the share of validation groups to hold out, "
                             "a number between 0 and 1 (e.g. --dataset-option=maintnet.holdout=0.5).")
    vals = [s.val for s in bundle.splits.values() if s.val is not None and len(s.val)]
    if not vals:
        raise InputDataError(f"holdout: dataset {bundle.dataset} has no validation rows to hold out.")
    groups = np.unique(np.concatenate([v.groups for v in vals]))
    labels = np.full(len(groups), -1, dtype=np.int64)
    first = next((v for v in vals if v.task is not None and v.task.kind == "classification"
                  and np.asarray(v.targets).ndim == 1), None)
    if first is not None:
        labels[np.searchsorted(groups, first.groups)] = np.asarray(first.targets, dtype=np.int64)
    held = groups[split_groups(groups, (1 - share, share), seed, stratify=labels)[1]]
    splits = {}
    for name, parts in bundle.splits.items():
        mask = np.isin(parts.val.groups, held)
        if mask.all() or not mask.any():
            raise InputDataError(f"holdout {share}: task {name} of {bundle.dataset} has {len(np.unique(parts.val.groups))} "
                                 "validation group(s), too few to leave some on each side; use a share nearer 0.5.")
        splits[name] = TaskSplits(parts.train, parts.val.subset(np.flatnonzero(~mask)),
                                  parts.val.subset(np.flatnonzero(mask)))
    notes = {**bundle.notes, "holdout": {"share": share, "groups": int(len(held)), "of": int(len(groups))}}
    return replace(bundle, splits=splits, notes=notes)
