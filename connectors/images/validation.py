"""Decode and validate one weld image, from a path or from bytes.

Shared by the image ingest connector and the weld predictor, so every image PlantPulse looks at
went through the same checks: size limits before decoding (decompression bombs), an allowed
format, a complete decode (truncated or corrupt files), EXIF orientation applied, and any mode
(grayscale, 16-bit radiographs, palette, alpha, CMYK) turned into one RGB ``uint8`` array.

Every failure is an :class:`~plantpulse.data.core.errors.InputDataError` (or its subclass
:class:`~plantpulse.data.core.errors.UploadRejectedError` for inputs refused for their size), so a batch
can reject one bad file with a reason and go on: see :func:`validate_images`.
"""

from __future__ import annotations

import hashlib
import io
import struct
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from plantpulse.data.core.errors import InputDataError, UploadRejectedError
from plantpulse.data.core.records import ImageBatch, RejectedImage, ValidatedImage

#: Formats accepted as Pillow names them. MPO is the multi-picture JPEG many cameras write.
ALLOWED_FORMATS: frozenset[str] = frozenset({"JPEG", "MPO", "PNG", "BMP", "TIFF", "WEBP"})
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
MIN_SIDE = 8
_EXIF_ORIENTATION = 0x0112
# Errors Pillow raises on corrupt data; each becomes an InputDataError with the file name.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, struct.error, EOFError, IndexError, TypeError)

ImageSource = str | Path | bytes


def _pillow_open() -> Callable[[IO[bytes]], Image.Image]:
    """Pillow's own ``Image.open``.

    Ultralytics replaces ``PIL.Image.open`` with a wrapper that, on an unidentified file, tries
    to install and import an extra package; validation must only ever call Pillow itself.
    """
    patches = sys.modules.get("ultralytics.utils.patches")
    return getattr(patches, "_image_open", None) or Image.open


def _read_bytes(source: ImageSource, name: str | None, max_bytes: int) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        label = name or "<bytes>"
    else:
        path = Path(source)
        label = name or str(path)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                msg = (f"{label}: file is {size} bytes, more than the limit of {max_bytes}; "
                       "resize it or raise the limit.")
                raise UploadRejectedError(msg)
            data = path.read_bytes()
        except OSError as err:
            msg = f"{label}: cannot read the file ({err.strerror or err}). Check the path."
            raise InputDataError(msg) from err
    if len(data) > max_bytes:
        msg = f"{label}: {len(data)} bytes, more than the limit of {max_bytes}; resize it first."
        raise UploadRejectedError(msg)
    if not data:
        raise InputDataError(f"{label}: the file is empty (0 bytes).")
    return data, label


def _open_checked(data: bytes, label: str, max_pixels: int) -> Image.Image:
    """Open (header only) and check format and size before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _pillow_open()(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        msg = f"{label}: image dimensions are too large to decode safely ({err})."
        raise UploadRejectedError(msg) from err
    except UnidentifiedImageError as err:
        allowed = ", ".join(sorted(ALLOWED_FORMATS))
        msg = f"{label}: not a recognised image file. Allowed formats: {allowed}."
        raise InputDataError(msg) from err
    except _DECODE_ERRORS as err:
        raise InputDataError(f"{label}: corrupt image header ({err}).") from err
    if image.format not in ALLOWED_FORMATS:
        allowed = ", ".join(sorted(ALLOWED_FORMATS))
        msg = f"{label}: format {image.format} is not accepted. Allowed formats: {allowed}."
        raise InputDataError(msg)
    width, height = image.size
    if width * height > max_pixels:
        msg = (f"{label}: {width}x{height} pixels is more than the limit of {max_pixels} "
               "(decompression bomb guard); downscale the image or raise ingest.max_image_pixels.")
        raise UploadRejectedError(msg)
    if min(width, height) < MIN_SIDE:
        msg = f"{label}: {width}x{height} pixels is too small; both sides must be >= {MIN_SIDE}."
        raise InputDataError(msg)
    return image


def _decode(data: bytes, label: str, max_pixels: int) -> Image.Image:
    """Verify the file structure, then decode it completely (truncated files fail here)."""
    try:
        _open_checked(data, label, max_pixels).verify()
        image = _open_checked(data, label, max_pixels)
        image.load()
    except InputDataError:
        raise
    except _DECODE_ERRORS as err:
        msg = f"{label}: the image is corrupt or truncated ({err}). Re-export or re-upload it."
        raise InputDataError(msg) from err
    return image


def _apply_exif(image: Image.Image) -> tuple[Image.Image, bool]:
    """Rotate as the camera's EXIF orientation says; a broken EXIF block leaves it as is."""
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
        if orientation in (None, 1):
            return image, False
        return ImageOps.exif_transpose(image), True
    except _DECODE_ERRORS:
        return image, False


def _stretch_to_uint8(values: np.ndarray) -> np.ndarray:
    """Linear min-max stretch of a high bit depth (e.g. 12/16-bit radiograph) to 0..255."""
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _to_rgb(image: Image.Image) -> tuple[np.ndarray, bool]:
    """Any Pillow mode -> (H, W, 3) uint8 RGB, and whether the source had one channel."""
    mode = image.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        gray = _stretch_to_uint8(np.asarray(image))
        return np.repeat(gray[:, :, None], 3, axis=2), True
    grayscale = mode in ("1", "L", "LA", "La") or (
        mode in ("P", "PA") and _palette_is_gray(image)
    )
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return rgb, grayscale


def _palette_is_gray(image: Image.Image) -> bool:
    palette = image.getpalette() or []
    triples = np.asarray(palette, dtype=np.int32).reshape(-1, 3)
    return bool(len(triples)) and bool(np.all(triples == triples[:, :1]))


def validate_image(
    source: ImageSource,
    *,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ValidatedImage:
    """Read, check and decode one image.

    Args:
        source: a file path, or the file's bytes.
        name: the name used in messages (default: the path, or ``"<bytes>"``).
        max_pixels: width x height above which the image is refused before decoding.
        max_bytes: file size above which the image is refused before reading.

    Raises:
        UploadRejectedError: the file or its declared dimensions exceed the limits.
        InputDataError: unreadable, empty, not an image, a refused format, corrupt or truncated.
    """
    data, label = _read_bytes(source, name, max_bytes)
    image = _decode(data, label, max_pixels)
    image_format, original_size, mode = str(image.format), image.size, image.mode
    image, rotated = _apply_exif(image)
    try:
        rgb, grayscale = _to_rgb(image)
    except _DECODE_ERRORS as err:
        raise InputDataError(f"{label}: cannot convert mode {mode} to RGB ({err}).") from err
    rgb = np.ascontiguousarray(rgb)
    rgb.setflags(write=False)
    return ValidatedImage(
        rgb=rgb,
        sha256=hashlib.sha256(data).hexdigest(),
        format=image_format,
        original_size=(int(original_size[0]), int(original_size[1])),
        exif_rotated=rotated,
        source_mode=mode,
        grayscale=grayscale,
        name=Path(label).name if isinstance(source, str | Path) else label,
        n_bytes=len(data),
    )


def validate_images(
    sources: Iterable[ImageSource],
    *,
    names: Sequence[str] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ImageBatch:
    """Validate many images; a bad one is listed in ``rejected`` and the batch goes on."""
    good: list[ValidatedImage] = []
    bad: list[RejectedImage] = []
    for index, source in enumerate(sources):
        name = names[index] if names is not None else None
        try:
            good.append(validate_image(source, name=name, max_pixels=max_pixels,
                                       max_bytes=max_bytes))
        except InputDataError as err:
            label = name or (str(source) if isinstance(source, str | Path) else f"<bytes #{index}>")
            bad.append(RejectedImage(name=label, reason=str(err)))
    return ImageBatch(images=tuple(good), rejected=tuple(bad))
