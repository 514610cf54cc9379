"""Model-ready samples for every public dataset, with leakage-free splits.

``build_bundle(name, root)`` turns one dataset (read through ``plantpulse.data.datasets``) into a
:class:`TaskBundle`: train/val/test :class:`~plantpulse.model.moe.training.TaskSplits` per task,
unlabelled training-split data for pre-training, and the per-channel normalisers. The split
rules per dataset are in each module's docstring; the helpers are in :mod:`.splits`.

| name | tasks | split |
|---|---|---|
| cmapss | rul:turbofan, anomaly:turbofan | by engine (val); NASA test engines, last window |
| cwru | fault:bearing, anomaly:bearing | by recording segment before windowing (or load / size) |
| azure_pdm | failure24h:machine (telemetry + log text) | by time, 24 h look-ahead respected |
| maintnet | system:aircraft (text) | by distinct problem text |
| ai4i2020 | fault:milling (tabular) | by product, stratified |
| weld_surface_yolo | defect:weld (images) | by Roboflow source image, duplicates removed |
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from plantpulse.data.core.registry import Registry
from plantpulse.pipelines.train.tasks import ai4i, azure, cmapss, cwru, maintnet, weld
from plantpulse.pipelines.train.tasks.base import TaskBundle
from plantpulse.pipelines.train.tasks.splits import hold_out_validation

BUNDLES: Registry[Callable[..., TaskBundle]] = Registry("task dataset")
BUNDLES.add("cmapss", cmapss.build)
BUNDLES.add("cwru", cwru.build)
BUNDLES.add("azure_pdm", azure.build)
BUNDLES.add("maintnet", maintnet.build)
BUNDLES.add("ai4i2020", ai4i.build)
BUNDLES.add("weld_surface_yolo", weld.build)


def build_bundle(name: str, root: Path | str, **options: Any) -> TaskBundle:
    """Build dataset ``name``'s tasks from the datasets folder ``root`` (see the table above).

    ``holdout`` (any dataset, off by default): the share of validation groups that replaces the
    test split, for recipe comparisons that must not read test data
    (:func:`~plantpulse.pipelines.train.tasks.splits.hold_out_validation`)."""
    holdout = options.pop("holdout", None)
    bundle = BUNDLES.get(name)(root, **options)
    return bundle if holdout is None else hold_out_validation(bundle, holdout, int(options.get("seed", 0)) + 7919)


__all__ = ["BUNDLES", "TaskBundle", "build_bundle"]
