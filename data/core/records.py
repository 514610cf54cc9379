"""Typed records that cross package boundaries (connectors -> pipelines -> data layer -> app).

Frozen, slotted, validated once on construction; array shapes are written beside the fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from plantpulse.data.core.errors import InputDataError

#: The longest text field (CSV cell, log text) read as one value; longer fields quarantine their record.
DEFAULT_MAX_FIELD_CHARS = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused input row/value: where it came from and why (kept verbatim in ``raw``)."""

    source: str
    line: int | None
    column: str | None
    reason: str
    raw: str = ""
    code: str = ""  # short machine-readable class of the reason, e.g. "not_numeric" (batch summaries)

    def describe(self) -> str:
        where = self.source + (f":{self.line}" if self.line is not None else "")
        col = f" column {self.column!r}" if self.column else ""
        return f"{where}:{col} {self.reason}"


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """An asset as a connector or a registry file describes it."""

    name: str
    asset_type: str
    site: str = ""
    line: str = ""
    model: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 128:
            msg = f"Asset name must be 1-128 characters. Got {self.name!r}."
            raise InputDataError(msg)


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel name and its unit (e.g. ``("vibration", "mm/s")``)."""

    name: str
    unit: str = ""

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 128:
            msg = f"Channel name must be 1-128 characters. Got {self.name!r}."
            raise InputDataError(msg)


@dataclass(frozen=True, slots=True)
class SensorWindow:
    """The readings of one asset over a time span, aligned on timestamps.

    ts (T,) datetime64[us] (UTC), values (T, C) float64 with NaN where a channel had no value.
    """

    asset_id: int
    asset_name: str
    channels: tuple[str, ...]
    ts: np.ndarray
    values: np.ndarray

    @property
    def end(self) -> np.datetime64 | None:
        return self.ts[-1] if len(self.ts) else None

    def __len__(self) -> int:
        return int(self.ts.shape[0])


@dataclass(frozen=True, slots=True)
class MaintenanceRecord:
    """A maintenance-log entry as exported by a CMMS; ``text`` and ``action`` are verbatim."""

    source: str
    external_id: str
    kind: str
    text: str
    asset: str | None = None
    ts: datetime | None = None
    code: str | None = None
    component: str | None = None
    action: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Prediction:
    """One window's prediction, whatever model made it (every predictor kind returns this).

    RUL in the asset's own time unit (cycles, hours): ``rul_mean`` with an 80 % interval
    ``rul_lower``/``rul_upper`` and optional quantiles (``{"0.1": 61.0, "0.9": 112.0}``) from which a
    survival curve can be drawn. ``fault_probs``: class -> probability of the asset's fault or
    failure head; ``class_probs``: every class-type head of the asset, task -> class ->
    probability. ``anomaly_score`` >= 0 (the scale is the model kind's). ``modality_shares``:
    modality -> fusion weight; ``expert_shares`` (E,): fraction of the window's tokens routed to
    each expert. Fields are None (or empty) where the model has no head of that kind.
    """

    rul_mean: float | None = None
    rul_lower: float | None = None
    rul_upper: float | None = None
    rul_quantiles: dict[str, float] | None = None
    fault_probs: dict[str, float] = field(default_factory=dict)
    class_probs: dict[str, dict[str, float]] = field(default_factory=dict)
    anomaly_score: float | None = None
    modality_shares: dict[str, float] = field(default_factory=dict)
    expert_shares: tuple[float, ...] = ()

    @property
    def top_fault(self) -> tuple[str | None, float | None]:
        if not self.fault_probs:
            return None, None
        name = max(self.fault_probs, key=self.fault_probs.__getitem__)
        return name, float(self.fault_probs[name])

    @property
    def routing(self) -> dict[str, Any]:
        """The routing JSON stored with a prediction (empty for models without routing)."""
        if not self.modality_shares and not self.expert_shares:
            return {}
        return {"modality_shares": dict(self.modality_shares), "expert_shares": list(self.expert_shares)}


@dataclass(frozen=True, slots=True)
class PredictionRow:
    """What scoring stores (see ``data.store.schema.Prediction``): a prediction and whose window it is."""

    asset_id: int
    window_end: datetime
    model_version_id: int
    prediction: Prediction


class RawText(Protocol):
    """Gives back the verbatim source text of one input line (for quarantined rows)."""

    def text(self, line: int) -> str: ...


@dataclass(frozen=True, slots=True)
class SensorChunk:
    """Valid readings from one chunk of a sensor file, in long form: one entry per value.

    assets (K,) distinct asset names; asset (N,) int32 index into ``assets``;
    channels (C,) ChannelSpec; channel (N,) int16 index into ``channels``; ``columns`` (C,) the
    source column each channel came from (for messages); ts_us (N,) int64 µs since the epoch, UTC;
    value (N,) float64, finite; status (N,) int32 OPC-UA status code (0 = Good);
    line (N,) int64 source line (or row) of each value.
    ``rejections`` are the cells/rows of this chunk that were refused, ``rows`` the source rows the
    chunk covered, ``empty_cells`` cells that held no value, ``blank_lines`` empty lines skipped and
    ``progress`` how far into the source the chunk ends (in ``SensorSourceInfo.progress_unit``).
    ``raw`` returns the verbatim text of a line, so later stages can quarantine whole rows.
    """

    assets: tuple[str, ...]
    asset: np.ndarray
    channels: tuple[ChannelSpec, ...]
    columns: tuple[str, ...]
    channel: np.ndarray
    ts_us: np.ndarray
    value: np.ndarray
    status: np.ndarray
    line: np.ndarray
    rejections: tuple[Rejection, ...] = ()
    rows: int = 0
    empty_cells: int = 0
    blank_lines: int = 0
    progress: int = 0
    asset_column: str | None = None
    raw: RawText | None = None
    naive_times: int = 0  # rows whose timestamp had no zone and was read in the configured one

    def __post_init__(self) -> None:
        n = self.asset.shape[0]
        arrays = (self.channel, self.ts_us, self.value, self.status, self.line)
        if any(a.shape != (n,) for a in arrays) or len(self.columns) != len(self.channels):
            msg = (
                f"SensorChunk shapes disagree: asset {self.asset.shape}, channel "
                f"{self.channel.shape}, ts {self.ts_us.shape}, value {self.value.shape}, status "
                f"{self.status.shape}, line {self.line.shape}; {len(self.columns)} columns for "
                f"{len(self.channels)} channels."
            )
            raise InputDataError(msg)

    def __len__(self) -> int:
        return int(self.asset.shape[0])


@dataclass(frozen=True, slots=True)
class SensorSourceInfo:
    """What a sensor connector learned from a file's header before reading its rows."""

    source: str
    layout: str  # "wide" or "long"
    columns: tuple[str, ...]
    time_column: str | None
    asset_column: str | None
    channels: tuple[ChannelSpec, ...]
    timezone: str  # zone applied to timestamps written without one
    progress_total: int  # size of the source in ``progress_unit``
    progress_unit: str = "B"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class YoloBox:
    """One YOLO label: class id and name, box centre/size normalised to 0..1 of the image."""

    class_id: int
    cx: float
    cy: float
    w: float
    h: float
    class_name: str | None = None

    def __post_init__(self) -> None:
        if self.class_id < 0:
            raise InputDataError(f"YOLO class id must be >= 0. Got {self.class_id}.")
        coords = (self.cx, self.cy, self.w, self.h)
        if not all(0.0 <= v <= 1.0 for v in coords) or self.w <= 0 or self.h <= 0:
            msg = f"YOLO box must be normalised to 0..1 with positive size. Got {coords}."
            raise InputDataError(msg)

    def line(self) -> str:
        """The box as a YOLO label line."""
        return f"{self.class_id} {self.cx:.6f} {self.cy:.6f} {self.w:.6f} {self.h:.6f}"

    def as_dict(self) -> dict[str, Any]:
        return {"class_id": self.class_id, "class_name": self.class_name,
                "cx": self.cx, "cy": self.cy, "w": self.w, "h": self.h}


@dataclass(frozen=True, slots=True)
class WeldImageFile:
    """A validated weld image ready to store: original bytes plus what the decoder found.

    ``labels`` is None when no label file came with the image, else its boxes (possibly none).
    ``class_name`` is the whole-image class given by the upload (its class folder or a row of a
    labels CSV), None when it gave none.
    """

    name: str
    data: bytes
    sha256: str
    format: str
    width: int
    height: int
    labels: tuple[YoloBox, ...] | None = None
    label_name: str | None = None
    class_name: str | None = None


# --- weld images: the one result of image validation (connectors.images.validation) ---

@dataclass(frozen=True, slots=True)
class ValidatedImage:
    """One decoded, checked image.

    Attributes:
        rgb: pixels, shape (H, W, 3), ``uint8``, RGB order, EXIF orientation applied; read-only.
        sha256: hex digest of the original file bytes (the content address of the image).
        format: Pillow's format name of the file, e.g. ``"JPEG"``.
        original_size: ``(width, height)`` as stored in the file, before EXIF rotation.
        exif_rotated: True when an EXIF orientation tag other than "normal" was applied.
        source_mode: Pillow mode of the file, e.g. ``"RGB"``, ``"L"``, ``"I;16"``.
        grayscale: True when the file had one channel (it is replicated into R, G and B).
        name: file name, or the name given for bytes input.
        n_bytes: size of the file in bytes.
    """

    rgb: np.ndarray
    sha256: str
    format: str
    original_size: tuple[int, int]
    exif_rotated: bool
    source_mode: str
    grayscale: bool
    name: str
    n_bytes: int

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


@dataclass(frozen=True, slots=True)
class RejectedImage:
    """An input that failed validation, with the reason to show the user."""

    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImageBatch:
    """Result of :func:`validate_images`: good images in input order, and the rejected ones."""

    images: tuple[ValidatedImage, ...]
    rejected: tuple[RejectedImage, ...]
