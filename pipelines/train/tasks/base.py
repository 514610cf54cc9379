"""What every task builder returns: a :class:`TaskBundle`."""

from __future__ import annotations

from dataclasses import dataclass, field

from plantpulse.model.moe.training.data import TaskData, TaskSplits


@dataclass(frozen=True)
class TaskBundle:
    """One dataset turned into model-ready samples.

    splits: task name -> train/val/test; pretrain: unlabelled *training-split* data for stage 1
    (never validation or test rows); normalizers: asset type -> per-channel statistics fitted on
    the training split (stored in checkpoints so inference standardises the same way);
    notes: the protocol in words, with counts, for reports.
    """

    dataset: str
    splits: dict[str, TaskSplits]
    pretrain: tuple[TaskData, ...]
    normalizers: dict[str, dict[str, list]] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)
