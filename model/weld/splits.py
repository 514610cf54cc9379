"""Train/validation/test splits of labelled weld images, with and without source grouping.

The public weld dataset ships a training split that holds several augmented copies of the same
photo, and one photo appears in both its training and test splits. Scoring on such a split
measures memory as much as skill, so :func:`grouped_split` assigns whole *sources* (all copies
of one photo) to one part, and evaluation parts keep one image per source. :func:`original_split`
keeps the published folders, so both protocols can be reported side by side.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from plantpulse.data.core.errors import DatasetError, InputDataError
from plantpulse.model.weld.dataset import LabelledImage

PARTS = ("train", "val", "test")


@dataclass(frozen=True, slots=True)
class WeldSplit:
    """Three parts of a dataset and how they were made."""

    train: tuple[LabelledImage, ...]
    val: tuple[LabelledImage, ...]
    test: tuple[LabelledImage, ...]
    strategy: str
    seed: int | None = None

    def part(self, name: str) -> tuple[LabelledImage, ...]:
        if name not in PARTS:
            raise InputDataError(f"Unknown split part {name!r}. Available: {', '.join(PARTS)}.")
        return getattr(self, name)

    def overlap(self) -> dict[str, int]:
        """Number of sources shared by each pair of parts (0 everywhere means no leakage)."""
        sources = {name: {item.source for item in self.part(name)} for name in PARTS}
        return {f"{a}&{b}": len(sources[a] & sources[b])
                for i, a in enumerate(PARTS) for b in PARTS[i + 1:]}

    def summary(self) -> dict[str, dict[str, int]]:
        """Images and distinct sources per part, plus the source overlap between parts."""
        out: dict[str, dict[str, int]] = {
            name: {"images": len(self.part(name)),
                   "sources": len({item.source for item in self.part(name)})}
            for name in PARTS
        }
        out["overlap"] = self.overlap()
        return out


def has_reject_box(item: LabelledImage, reject_classes: Collection[int]) -> bool:
    """True when the image carries at least one box of a defect class."""
    return any(box.class_id in reject_classes for box in item.boxes)


def group_by_source(items: Iterable[LabelledImage]) -> dict[str, list[LabelledImage]]:
    groups: dict[str, list[LabelledImage]] = defaultdict(list)
    for item in items:
        groups[item.source].append(item)
    return {key: sorted(group, key=lambda it: it.name) for key, group in sorted(groups.items())}


def one_per_source(items: Iterable[LabelledImage]) -> tuple[LabelledImage, ...]:
    """The first image (by name) of every source: evaluation counts each photo once."""
    return tuple(group[0] for group in group_by_source(items).values())


def original_split(items: Sequence[LabelledImage]) -> WeldSplit:
    """The dataset's own ``train``/``valid``/``test`` folders, as published."""
    parts = {origin: tuple(it for it in items if it.origin == origin)
             for origin in ("train", "valid", "test")}
    empty = [name for name, part in parts.items() if not part]
    if empty:
        raise DatasetError(f"The original split has no images in {', '.join(empty)}.")
    return WeldSplit(parts["train"], parts["valid"], parts["test"], strategy="original")


def _check_fractions(fractions: Sequence[float]) -> None:
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        msg = f"fractions must be three positive numbers summing to 1 (train, val, test); got {fractions}."
        raise InputDataError(msg)


def _assign(keys: list[str], fractions: Sequence[float]) -> dict[str, str]:
    n_val = round(len(keys) * fractions[1])
    n_test = round(len(keys) * fractions[2])
    out = dict.fromkeys(keys[:n_test], "test")
    out.update(dict.fromkeys(keys[n_test:n_test + n_val], "val"))
    out.update(dict.fromkeys(keys[n_test + n_val:], "train"))
    return out


def grouped_split(
    items: Sequence[LabelledImage],
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    reject_classes: Collection[int] = (),
) -> WeldSplit:
    """Split by source photo: no source crosses parts; val/test keep one image per source.

    Sources are shuffled with ``seed`` within two strata (with / without a box of
    ``reject_classes``) so every part holds both good and defective welds.
    """
    _check_fractions(fractions)
    groups = group_by_source(items)
    rng = random.Random(seed)
    assignment: dict[str, str] = {}
    for defective in (True, False):
        keys = [key for key, group in groups.items()
                if any(has_reject_box(it, reject_classes) for it in group) == defective]
        rng.shuffle(keys)
        assignment.update(_assign(keys, fractions))
    parts = {name: [it for key, group in groups.items() if assignment[key] == name for it in group]
             for name in PARTS}
    return WeldSplit(train=tuple(parts["train"]), val=one_per_source(parts["val"]),
                     test=one_per_source(parts["test"]), strategy="grouped", seed=seed)


def hold_out_group(items: Sequence[LabelledImage], pattern: str,
                   ) -> tuple[list[LabelledImage], list[LabelledImage]]:
    """Split off the images whose source matches ``pattern`` (a regex searched from the start).

    Used to simulate a line changeover: the held-out group plays the new line.
    """
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise InputDataError(f"Invalid group pattern {pattern!r}: {err}.") from err
    group = [it for it in items if regex.match(it.source)]
    rest = [it for it in items if not regex.match(it.source)]
    if not group:
        raise DatasetError(f"No image source matches the group pattern {pattern!r}.")
    return rest, group
