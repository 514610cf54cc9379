"""Small synthetic weld images with painted defects, for tests, demos and smoke runs.

Each image is a grey steel plate with a horizontal weld bead. A defective weld gets dark pores
or a crack painted on the bead; its bead is labelled ``Bad Weld`` and each flaw ``Defect``; a
clean bead is labelled ``Good Weld``. :func:`write_synthetic_dataset` writes them as a Roboflow-like
YOLO folder, augmented copies (``<source>.rf.<hash>``) included, so split code meets the same
shapes as on the public dataset. Not a benchmark: the task is far easier than real welds.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw, ImageFilter

from plantpulse.data.core.records import YoloBox

NAMES = ("Bad Weld", "Good Weld", "Defect")
BAD, GOOD, DEFECT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class SyntheticWeld:
    """One painted image: (H, W, 3) uint8 RGB pixels and its YOLO boxes."""

    rgb: np.ndarray
    boxes: tuple[YoloBox, ...]


def _box(x1: float, y1: float, x2: float, y2: float, size: int, cls: int) -> YoloBox:
    return YoloBox(cls, (x1 + x2) / 2 / size, (y1 + y2) / 2 / size, (x2 - x1) / size,
                   (y2 - y1) / size)


def _paint_defects(draw: ImageDraw.ImageDraw, rng: np.random.Generator, bead: tuple[int, ...],
                   size: int) -> list[YoloBox]:
    x1, y1, x2, y2 = bead
    boxes = []
    for _ in range(int(rng.integers(1, 3))):
        if rng.random() < 0.5:  # a pore: dark disc
            r = max(2, int(size * rng.uniform(0.03, 0.06)))
            cx, cy = int(rng.integers(x1 + r, x2 - r)), int(rng.integers(y1 + r, max(y1 + r + 1, y2 - r)))
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(25, 22, 20))
            boxes.append(_box(cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1, size, DEFECT))
        else:  # a crack: dark jagged line along the bead
            length = int(size * rng.uniform(0.15, 0.3))
            start = int(rng.integers(x1, max(x1 + 1, x2 - length)))
            ys = (y1 + y2) / 2 + rng.normal(0, (y2 - y1) / 8, 6)
            xs = np.linspace(start, start + length, 6)
            draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=(15, 15, 15),
                      width=max(2, size // 64))
            boxes.append(_box(xs[0] - 2, ys.min() - 3, xs[-1] + 2, ys.max() + 3, size, DEFECT))
    return boxes


def synthetic_weld(rng: np.random.Generator, size: int = 128, defective: bool = True,
                   ) -> SyntheticWeld:
    """Paint one weld image of ``size`` x ``size`` pixels."""
    plate = rng.normal(150, 12, (size, size, 3)).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(plate).filter(ImageFilter.GaussianBlur(1))
    draw = ImageDraw.Draw(image)
    half = int(size * rng.uniform(0.07, 0.12))
    cy = int(rng.integers(size // 3, 2 * size // 3))
    x1, x2 = int(size * rng.uniform(0.05, 0.2)), int(size * rng.uniform(0.8, 0.95))
    bead = (x1, cy - half, x2, cy + half)
    draw.rounded_rectangle(bead, radius=half, fill=(205, 200, 190), outline=(120, 115, 110))
    for x in range(x1 + half, x2 - half, max(3, size // 32)):  # weld ripples
        draw.arc((x - half, cy - half, x + half, cy + half), 60, 300, fill=(170, 165, 155))
    boxes = [_box(*bead, size, BAD if defective else GOOD)]
    if defective:
        boxes += _paint_defects(draw, rng, bead, size)
    return SyntheticWeld(np.asarray(image, dtype=np.uint8), tuple(boxes))


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 image."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def _write(root: Path, split: str, name: str, weld: SyntheticWeld) -> None:
    Image.fromarray(weld.rgb).save(root / split / "images" / f"{name}.jpg", quality=92)
    text = "\n".join(box.line() for box in weld.boxes) + "\n"
    (root / split / "labels" / f"{name}.txt").write_text(text, encoding="utf-8")


def _flipped(weld: SyntheticWeld) -> SyntheticWeld:
    rgb = np.ascontiguousarray(weld.rgb[:, ::-1])
    boxes = tuple(YoloBox(b.class_id, 1.0 - b.cx, b.cy, b.w, b.h) for b in weld.boxes)
    return SyntheticWeld(rgb, boxes)


def write_synthetic_dataset(root: Path, counts: dict[str, int] | None = None, size: int = 128,
                            seed: int = 0, copies: int = 2) -> Path:
    """Write a YOLO dataset folder; training sources get ``copies`` mirrored copies each."""
    counts = counts or {"train": 12, "valid": 4, "test": 4}
    rng = np.random.default_rng(seed)
    root = Path(root)
    for split, count in counts.items():
        for sub in ("images", "labels"):
            (root / split / sub).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            weld = synthetic_weld(rng, size, defective=index % 3 != 0)
            source = f"{split}-weld{index:03d}_jpg"
            n_copies = copies if split == "train" else 1
            for copy_index in range(n_copies):
                tag = hashlib.sha256(f"{source}/{copy_index}".encode()).hexdigest()[:32]
                _write(root, split, f"{source}.rf.{tag}", weld if copy_index % 2 == 0 else _flipped(weld))
    (root / "classes.yaml").write_text(yaml.safe_dump({"names": list(NAMES)}), encoding="utf-8")
    return root
