"""Files PlantPulse ships inside its packages, found through ``importlib.resources``.

The wheel carries them (see ``[tool.setuptools.package-data]`` in pyproject.toml), so an installed
PlantPulse finds its bundled sample, shipped checkpoints and reports without a source checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def package_path(package: str, *parts: str) -> Path:
    """A folder or file inside an installed package, as a file-system path.

    PlantPulse is installed as plain files (wheel or editable), never zipped, so the resource
    is a real path.
    """
    return Path(str(resources.files(package))).joinpath(*parts)


def sample_dir() -> Path:
    """The small real sample the demo and the OPC-UA simulator use (``data/sample``)."""
    return package_path("plantpulse.data", "sample")


def checkpoints_dir() -> Path:
    """The committed MoE evaluation checkpoints (``model/checkpoints``)."""
    return package_path("plantpulse.model", "checkpoints")


def shipped_dir() -> Path:
    """The checkpoints the demo scores with (``model/shipped``)."""
    return package_path("plantpulse.model", "shipped")


def docs_dir() -> Path:
    """The evaluation and benchmark reports the dashboard shows (``docs``)."""
    return package_path("plantpulse.docs")
