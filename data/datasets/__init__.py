"""Loaders for the public PHM datasets PlantPulse is trained and evaluated on.

``load_dataset(name, root)`` reads ``root/<folder>``, verifies every file against the published
sizes and sha256 (``verify="full"``; ``"sizes"`` skips hashing; ``"none"`` skips both) and checks
parsed counts (rows, engines, classes) against the dataset's provenance record.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from plantpulse.data.core.registry import Registry
from plantpulse.data.datasets import ai4i, azure_pdm, cmapss, cwru, maintnet, weld
from plantpulse.data.datasets.manifest import Manifest, Verify, verify_files

DATASETS: Registry[tuple[Manifest, Callable[..., Any]]] = Registry("dataset")
DATASETS.add("cmapss", (cmapss.MANIFEST, cmapss.load))
DATASETS.add("cwru", (cwru.MANIFEST, cwru.load))
DATASETS.add("azure_pdm", (azure_pdm.MANIFEST, azure_pdm.load))
DATASETS.add("maintnet", (maintnet.MANIFEST, maintnet.load))
DATASETS.add("ai4i2020", (ai4i.MANIFEST, ai4i.load))
DATASETS.add("weld_surface_yolo", (weld.MANIFEST, weld.load))


def dataset_names() -> list[str]:
    return DATASETS.names()


def load_dataset(name: str, root: Path | str, verify: Verify = "full", **kwargs: Any) -> Any:
    """Load dataset ``name`` from the datasets folder ``root``; see the module docstring."""
    _, loader = DATASETS.get(name)
    return loader(root, verify=verify, **kwargs)


def manifest(name: str) -> Manifest:
    return DATASETS.get(name)[0]


def verify_dataset(name: str, root: Path | str, verify: Verify = "full") -> None:
    """Check the files and every published count of ``name`` (parses the whole dataset)."""
    load_dataset(name, root, verify=verify)


__all__ = ["DATASETS", "dataset_names", "load_dataset", "manifest", "verify_dataset", "verify_files"]
