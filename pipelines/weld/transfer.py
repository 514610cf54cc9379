"""Few-label transfer to a new production line: pre-train, then fine-tune on 10/25/50 images.

A *line changeover* is simulated by holding out one group of sources (by default the frames
of the ``SampleV3`` videos: the same camera set-up, never seen in pre-training). The group is
cut in two by clip so that near-identical neighbouring frames cannot sit on both sides: one
clip is the pool of images an engineer could label, the other is the new line's test set.
For each label budget the same images (nested subsets: the 10 are among the 25, the 25 among
the 50) are used to fine-tune the pre-trained detector and to train one from scratch, with the
same schedule; both are scored by mAP on the held-out clip.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from plantpulse.data.core.errors import DatasetError
from plantpulse.model.weld.checkpoint import WeldModel, save_weld_model
from plantpulse.model.weld.dataset import LabelledImage, drop_exact_duplicates, scan_yolo_dataset
from plantpulse.model.weld.evaluate import DetectionMetrics, evaluate_detection
from plantpulse.model.weld.materialize import write_dataset
from plantpulse.model.weld.splits import clip_split, hold_out_group, one_per_source
from plantpulse.model.weld.train import TrainConfig, train_detector


@dataclass(frozen=True, slots=True)
class TransferSetup:
    """Which sources form the new line, which of them may be labelled, and the budgets."""

    group_pattern: str = r"SampleV3_"
    pool_pattern: str = r"SampleV3_1_"
    sizes: tuple[int, ...] = (10, 25, 50)
    seed: int = 0


@dataclass(frozen=True, slots=True)
class TransferPoint:
    """One point of the learning curve: mAP on the new line's test clip."""

    n_labels: int
    start: str  # "pretrained" or "scratch"
    metrics: DetectionMetrics
    train_seconds: float


@dataclass(frozen=True, slots=True)
class TransferData:
    names: tuple[str, ...]
    base: dict[str, tuple[LabelledImage, ...]]
    pool: tuple[LabelledImage, ...]
    target: tuple[LabelledImage, ...]


def transfer_data(dataset_dir: Path, setup: TransferSetup) -> TransferData:
    """Base data without the group (clip split), the labelling pool and the target test."""
    names, items = scan_yolo_dataset(Path(dataset_dir))
    items, _ = drop_exact_duplicates(items)
    rest, group = hold_out_group(items, setup.group_pattern)
    pool = one_per_source(it for it in group if re.match(setup.pool_pattern, it.source))
    target = one_per_source(it for it in group if not re.match(setup.pool_pattern, it.source))
    if len(pool) < max(setup.sizes) or not target:
        msg = (f"Group {setup.group_pattern!r}: {len(pool)} pool sources and {len(target)} test "
               f"sources; need >= {max(setup.sizes)} and >= 1.")
        raise DatasetError(msg)
    split = clip_split(rest, seed=setup.seed, reject_classes={0, 2})
    base = {"train": split.train, "val": split.val, "test": split.test}
    return TransferData(names, base, pool, target)


def labelled_subsets(pool: Sequence[LabelledImage], sizes: Sequence[int],
                     seed: int) -> dict[int, tuple[LabelledImage, ...]]:
    """Nested random subsets of the pool, one per budget."""
    order = list(pool)
    random.Random(seed).shuffle(order)
    return {n: tuple(order[:n]) for n in sorted(sizes)}


def _fit(data: TransferData, train: Sequence[LabelledImage], config: TrainConfig,
         workdir: Path, label: str) -> tuple[WeldModel, Path, float]:
    yaml_path = write_dataset({"train": train, "val": data.base["val"], "test": data.target},
                              workdir / "datasets" / label, data.names)
    started = time.perf_counter()
    result = train_detector(yaml_path, data.names, config, workdir / "runs" / label)
    return result.model, yaml_path, time.perf_counter() - started


def run_transfer(dataset_dir: Path, workdir: Path, pretrain: TrainConfig, finetune: TrainConfig,
                 setup: TransferSetup | None = None,
                 log: Callable[[str], None] = print,
                 on_point: Callable[[list[TransferPoint]], None] | None = None) -> list[TransferPoint]:
    """Pre-train on the base data, then fine-tune / train from scratch per label budget.

    ``on_point`` is called with the points so far after each one, so that a long run can save
    partial results (the whole curve takes about an hour on 2 CPU cores).
    """
    notify = on_point or (lambda _: None)
    setup = setup or TransferSetup()
    data = transfer_data(dataset_dir, setup)
    workdir = Path(workdir)
    model, yaml_path, seconds = _fit(data, data.base["train"], pretrain, workdir, "pretrain")
    weights = save_weld_model(model, workdir / "pretrained.safetensors")
    points = [TransferPoint(0, "pretrained", evaluate_detection(model, yaml_path, "test"), seconds)]
    log(f"pre-trained in {seconds / 60:.1f} min: new-line mAP50 {points[0].metrics.map50:.3f}")
    notify(points)
    for n, subset in labelled_subsets(data.pool, setup.sizes, setup.seed).items():
        for start, weights_path in (("pretrained", weights), ("scratch", None)):
            config = replace(finetune, weights=weights_path)
            fitted, yaml_path, seconds = _fit(data, subset, config, workdir, f"{start}-{n}")
            metrics = evaluate_detection(fitted, yaml_path, "test")
            points.append(TransferPoint(n, start, metrics, seconds))
            log(f"{n:>3} labels, {start:<10}: mAP50 {metrics.map50:.3f} "
                f"mAP50-95 {metrics.map50_95:.3f} ({seconds / 60:.1f} min)")
            notify(points)
    return points
