"""Typed errors raised at PlantPulse's boundaries.

Every message says what was wrong, what was seen, where, and what to do about it,
so that a plant engineer reading a log line can fix the input without reading code.
"""

from __future__ import annotations


class PlantPulseError(Exception):
    """Base class of every error PlantPulse raises on purpose."""


class InputDataError(PlantPulseError, ValueError):
    """Input data (a file, a row, a value, an argument) is not usable as given."""


class DatasetError(InputDataError):
    """A public dataset folder is missing, incomplete or altered."""


class ConfigError(PlantPulseError, ValueError):
    """The configuration (file, environment or arguments) is invalid."""


class UnknownNameError(PlantPulseError, KeyError):
    """A registry lookup used a name that does not exist.

    ``KeyError`` quotes its argument when printed; this subclass prints the message as is.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UploadRejectedError(InputDataError):
    """An upload (file, zip) was refused as a whole: too large, a zip bomb, wrong type."""


class CheckpointError(PlantPulseError, ValueError):
    """A model checkpoint is corrupted, of another architecture, or fails verification."""
