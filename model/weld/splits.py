"""Train/validation/test splits of labelled weld images: by video clip, by source photo, as published.

The public weld dataset ships a training split that holds several augmented copies of the same
photo, and one photo appears in both its training and test splits. Scoring on such a split
measures memory as much as skill. Worse, about half of the images are frames of a few videos:
neighbouring frames of one clip are near-duplicates, so a split by photo still puts the same weld
in training and test.

* :func:`clip_split` (the default protocol) assigns whole *clips* to one part. A clip is read
  from the file name (:func:`clip_key`); an image that is not a video frame is its own group
  (its source photo with all augmented copies).
* :func:`grouped_split` assigns whole *sources* (all copies of one photo) to one part; frames of
  one clip can straddle parts. Kept as a labelled comparison.
* :func:`original_split` keeps the published folders, also as a comparison.

Evaluation parts keep one image per source in both grouped protocols.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from plantpulse.data.core.errors import DatasetError, InputDataError
from plantpulse.model.weld.dataset import LabelledImage

PARTS = ("train", "val", "test")
STRATEGIES = ("clip", "grouped", "original")
DEFAULT_STRATEGY = "clip"

# Roboflow names a frame of an uploaded video "<video>_<ext>-<frame>" (``SampleV2_1_mp4-42_jpg``);
# a trailing "_<n>" of the video name numbers the parts of one recording (SampleV3_1 and
# SampleV3_2 film the same plates), so the clip is the recording: ``SampleV2``.
_VIDEO_FRAME = re.compile(r"^(?P<video>.+?)_(?:mp4|mov|avi|mkv|webm|m4v|mpe?g)-\d+(?:_|$)", re.IGNORECASE)
_RECORDING_PART = re.compile(r"^(?P<recording>.+?)_\d+$")
# Frames exported with a running number after "vid" (``good_weld_vid1090_jpeg_jpg``): the number
# counts frames across a folder of videos, so clip boundaries cannot be read from it and every
# frame of the prefix counts as one clip.
_NUMBERED_FRAME = re.compile(r"^(?P<video>(?:.*[_-])?vid)\d+(?:_|$)", re.IGNORECASE)
# the stratum of one split unit (a clip's or a photo's images) when not "any reject box"
Stratum = Callable[[Sequence[LabelledImage]], object]


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

    def clips(self, name: str) -> set[str]:
        """The video clips with at least one frame in part ``name``."""
        return {key for item in self.part(name) if (key := clip_key(item.source))}

    def clip_overlap(self) -> dict[str, int]:
        """Number of video clips with frames in each pair of parts (0 under the clip split)."""
        clips = {name: self.clips(name) for name in PARTS}
        return {f"{a}&{b}": len(clips[a] & clips[b])
                for i, a in enumerate(PARTS) for b in PARTS[i + 1:]}

    def summary(self) -> dict[str, dict[str, int]]:
        """Images, distinct sources, clips and video frames per part; source and clip overlaps."""
        out: dict[str, dict[str, int]] = {
            name: {"images": len(self.part(name)),
                   "sources": len({item.source for item in self.part(name)}),
                   "clips": len(self.clips(name)),
                   "video_frames": sum(clip_key(item.source) is not None for item in self.part(name))}
            for name in PARTS
        }
        out["overlap"] = self.overlap()
        out["clip_overlap"] = self.clip_overlap()
        return out


def clip_key(source: str) -> str | None:
    """The video clip a source photo was cut from, or None when it is not a video frame.

    ``SampleV1_2_mp4-14_jpg`` -> ``video:SampleV1`` (the parts ``_1``, ``_2`` of one recording are
    one clip); ``bad_weld_vid278_jpeg_jpg`` -> ``video:bad_weld_vid``; a photo -> None.
    """
    match = _VIDEO_FRAME.match(source)
    if match:
        video = match.group("video")
        part = _RECORDING_PART.match(video)
        return f"video:{part.group('recording') if part else video}"
    match = _NUMBERED_FRAME.match(source)
    return f"video:{match.group('video')}" if match else None


def group_key(item: LabelledImage) -> str:
    """The unit the clip split keeps in one part: the video clip, else the source photo."""
    return source_group(item.source)


def source_group(source: str) -> str:
    """:func:`group_key` of a source photo's name: its video clip, else the photo itself."""
    return clip_key(source) or f"photo:{source}"


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


def _strata(groups: dict[str, list[LabelledImage]], reject_classes: Collection[int],
            stratum: Stratum | None) -> list[list[str]]:
    """Group keys per stratum, in a fixed order: with / without a reject box by default (the order
    the published splits were drawn in), else per value of ``stratum(group)`` sorted by its text."""
    if stratum is None:
        return [[key for key, group in groups.items()
                 if any(has_reject_box(it, reject_classes) for it in group) == defective]
                for defective in (True, False)]
    found: dict[str, list[str]] = defaultdict(list)
    for key, group in groups.items():
        found[str(stratum(group))].append(key)
    return [found[value] for value in sorted(found)]


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
    stratum: Stratum | None = None,
) -> WeldSplit:
    """Split by source photo: no source crosses parts; val/test keep one image per source.

    Sources are shuffled with ``seed`` within two strata (with / without a box of
    ``reject_classes``) so every part holds both good and defective welds; ``stratum`` replaces
    those two strata by its own (e.g. the whole-image class; see :func:`_strata`).
    """
    _check_fractions(fractions)
    groups = group_by_source(items)
    rng = random.Random(seed)
    assignment: dict[str, str] = {}
    for keys in _strata(groups, reject_classes, stratum):
        rng.shuffle(keys)
        assignment.update(_assign(keys, fractions))
    parts = {name: [it for key, group in groups.items() if assignment[key] == name for it in group]
             for name in PARTS}
    return WeldSplit(train=tuple(parts["train"]), val=one_per_source(parts["val"]),
                     test=one_per_source(parts["test"]), strategy="grouped", seed=seed)


def fill_parts(keys: list[str], sizes: dict[str, int], fractions: Sequence[float]) -> dict[str, str]:
    """Assign groups of unequal size in ``keys`` order: test, then val, until each holds its share.

    A group goes to the first evaluation part it still fits into (counting sources, as val/test
    keep one image per source) and otherwise to train, so no part overshoots its share and a clip
    larger than a part's share always trains.
    """
    total = sum(sizes[key] for key in keys)
    room = {"test": round(total * fractions[2]), "val": round(total * fractions[1])}
    out: dict[str, str] = {}
    for key in keys:
        part = next((p for p in ("test", "val") if sizes[key] <= room[p]), "train")
        if part != "train":
            room[part] -= sizes[key]
        out[key] = part
    return out


def clip_split(
    items: Sequence[LabelledImage],
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    reject_classes: Collection[int] = (),
    stratum: Stratum | None = None,
) -> WeldSplit:
    """Split by video clip: all frames of one clip (and all copies of one photo) share a part.

    The unit is :func:`group_key`: the clip of a video frame, else the source photo. Units are
    shuffled with ``seed`` within two strata (any box of ``reject_classes`` or none) and fill
    val and test up to their share of the stratum's sources (:func:`fill_parts`); val/test keep one
    image per source. ``stratum`` replaces the two strata by its own, as in :func:`grouped_split`.
    """
    _check_fractions(fractions)
    groups: dict[str, list[LabelledImage]] = defaultdict(list)
    for item in items:
        groups[group_key(item)].append(item)
    sizes = {key: len({it.source for it in group}) for key, group in groups.items()}
    rng = random.Random(seed)
    assignment: dict[str, str] = {}
    for found in _strata(groups, reject_classes, stratum):
        keys = sorted(found)
        rng.shuffle(keys)
        assignment.update(fill_parts(keys, sizes, fractions))
    parts = {name: sorted((it for key, group in groups.items() if assignment[key] == name
                           for it in group), key=lambda it: (it.source, it.name))
             for name in PARTS}
    empty = [name for name in ("val", "test") if not parts[name]]
    if empty:
        msg = (f"The clip split left {' and '.join(empty)} empty: {len(groups)} clips/photos are too "
               "few or too large for the fractions; add images or use --split grouped.")
        raise DatasetError(msg)
    return WeldSplit(train=tuple(parts["train"]), val=one_per_source(parts["val"]),
                     test=one_per_source(parts["test"]), strategy="clip", seed=seed)


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
