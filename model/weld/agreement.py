"""Do two detectors find the same boxes? Used to check an ONNX export against PyTorch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from plantpulse.model.weld.inference import Detection, ImageDetections


@dataclass(frozen=True, slots=True)
class Agreement:
    """Boxes of the reference (score >= ``min_score``) found again by the other detector."""

    images: int
    boxes: int
    matched: int
    max_corner_px: float
    max_score: float

    @property
    def all_matched(self) -> bool:
        return self.matched == self.boxes


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _best_match(box: Detection, candidates: Sequence[Detection]) -> tuple[Detection | None, float]:
    same = [c for c in candidates if c.class_id == box.class_id]
    if not same:
        return None, 0.0
    ious = [_iou(box.box, c.box) for c in same]
    best = int(np.argmax(ious))
    return same[best], ious[best]


def compare_detections(reference: Sequence[ImageDetections], other: Sequence[ImageDetections],
                       min_score: float = 0.1, min_iou: float = 0.9) -> Agreement:
    """Match each confident reference box to the same-class box of highest IoU in ``other``."""
    boxes = matched = 0
    max_corner = max_score = 0.0
    for ref, oth in zip(reference, other, strict=True):
        for box in ref.detections:
            if box.score < min_score:
                continue
            boxes += 1
            match, iou = _best_match(box, oth.detections)
            if match is None or iou < min_iou:
                continue
            matched += 1
            corner = max(abs(x - y) for x, y in zip(box.box, match.box, strict=True))
            max_corner = max(max_corner, corner)
            max_score = max(max_score, abs(box.score - match.score))
    return Agreement(len(reference), boxes, matched, max_corner, max_score)
