"""Image decoding and validation: every bad input is a clear InputDataError, never a crash."""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from plantpulse.connectors.images.validation import validate_image, validate_images
from plantpulse.data.core.errors import InputDataError, UploadRejectedError
from plantpulse.data.core.records import ImageBatch, ValidatedImage


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def rgb_image(width: int = 40, height: int = 30, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` (valid CRC) but holds almost no data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0")) \
        + chunk(b"IEND", b"")


def test_rgb_jpeg_from_bytes() -> None:
    data = encode(rgb_image(), "JPEG", quality=95)
    result = validate_image(data, name="weld.jpg")
    assert isinstance(result, ValidatedImage)
    assert result.rgb.shape == (30, 40, 3) and result.rgb.dtype == np.uint8
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert (result.format, result.original_size, result.name) == ("JPEG", (40, 30), "weld.jpg")
    assert not result.grayscale and not result.exif_rotated
    assert not result.rgb.flags.writeable


def test_path_input_uses_file_name(tmp_path: Path) -> None:
    path = tmp_path / "seam_01.png"
    path.write_bytes(encode(rgb_image(), "PNG"))
    result = validate_image(path)
    assert result.name == "seam_01.png" and result.format == "PNG"
    assert np.array_equal(result.rgb, np.asarray(rgb_image()))


@pytest.mark.parametrize(
    ("mode", "grayscale"),
    [("L", True), ("LA", True), ("RGBA", False), ("CMYK", False), ("1", True)],
    ids=["gray", "gray-alpha", "rgba", "cmyk", "bilevel"],
)
def test_modes_become_rgb(mode: str, grayscale: bool) -> None:
    image = rgb_image().convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    result = validate_image(encode(image, fmt))
    assert result.rgb.shape == (30, 40, 3)
    assert result.grayscale is grayscale
    if grayscale:
        assert np.array_equal(result.rgb[..., 0], result.rgb[..., 2])


def test_palette_gray_is_detected() -> None:
    image = rgb_image().convert("L").convert("P")
    assert validate_image(encode(image, "PNG")).grayscale


def test_16_bit_radiograph_is_stretched() -> None:
    values = np.linspace(1000, 4095, 48 * 32, dtype=np.uint16).reshape(32, 48)  # 12-bit data
    image = Image.fromarray(values)  # uint16 -> mode I;16
    result = validate_image(encode(image, "PNG"))
    assert result.grayscale and result.source_mode.startswith("I")
    assert result.rgb.min() == 0 and result.rgb.max() == 255


def test_exif_rotation_is_applied() -> None:
    image = rgb_image(40, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    result = validate_image(encode(image, "JPEG", exif=exif))
    assert result.exif_rotated
    assert result.rgb.shape == (40, 30, 3)
    assert result.original_size == (40, 30)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"this is not an image at all" * 10, "not a recognised image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt|not a recognised"),
    ],
    ids=["empty", "text", "png-magic-garbage"],
)
def test_garbage_is_rejected(data: bytes, match: str) -> None:
    with pytest.raises(InputDataError, match=match):
        validate_image(data)


def test_truncated_jpeg_is_rejected() -> None:
    data = encode(rgb_image(64, 64), "JPEG")
    with pytest.raises(InputDataError, match="corrupt or truncated"):
        validate_image(data[: len(data) // 2], name="cut.jpg")


def test_gif_is_not_accepted() -> None:
    with pytest.raises(InputDataError, match="format GIF is not accepted. Allowed formats: BMP"):
        validate_image(encode(rgb_image(), "GIF"))


def test_pixel_limit_rejects_before_decoding() -> None:
    with pytest.raises(UploadRejectedError, match="decompression bomb guard"):
        validate_image(encode(rgb_image(200, 200), "PNG"), max_pixels=10_000)


def test_huge_declared_dimensions_are_refused() -> None:
    with pytest.raises(UploadRejectedError, match="too large|decompression bomb"):
        validate_image(png_with_size(100_000, 100_000), name="bomb.png")


def test_tiny_image_is_rejected() -> None:
    with pytest.raises(InputDataError, match="too small; both sides must be >= 8"):
        validate_image(encode(rgb_image(4, 4), "PNG"))


def test_file_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(encode(rgb_image(), "PNG"))
    with pytest.raises(UploadRejectedError, match="more than the limit of 100"):
        validate_image(path, max_bytes=100)


def test_missing_file() -> None:
    with pytest.raises(InputDataError, match="cannot read the file"):
        validate_image(Path("/nonexistent/weld.jpg"))


def test_batch_goes_on_after_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    good.write_bytes(encode(rgb_image(), "JPEG"))
    sources = [good, b"garbage bytes", encode(rgb_image(seed=1), "PNG"), tmp_path / "missing.jpg"]
    batch = validate_images(sources)
    assert isinstance(batch, ImageBatch)
    assert [image.format for image in batch.images] == ["JPEG", "PNG"]
    assert [bad.name for bad in batch.rejected] == ["<bytes #1>", str(tmp_path / "missing.jpg")]
    assert "not a recognised image" in batch.rejected[0].reason


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048))
def test_random_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(InputDataError):
        validate_image(data)


_VALID = {"jpeg": encode(rgb_image(32, 24), "JPEG"), "png": encode(rgb_image(32, 24), "PNG")}


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(sorted(_VALID)), cut=st.integers(0, 2000), flip=st.integers(0, 2000))
def test_damaged_files_never_crash(kind: str, cut: int, flip: int) -> None:
    data = bytearray(_VALID[kind][: max(cut, 1)])
    data[flip % len(data)] ^= 0xFF
    try:
        result = validate_image(bytes(data))
    except InputDataError:
        return
    assert result.rgb.ndim == 3 and result.rgb.shape[2] == 3
