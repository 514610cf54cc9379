"""Pre- and post-processing shared by the PyTorch and ONNX weld predictors (numpy + OpenCV only).

Both predictors feed the network the same letterboxed tensor and decode its raw output
``(4 + n_classes, n_anchors)`` (box centre/size in input pixels, then per-class scores) with the
same class-aware non-maximum suppression, so they can only differ by what the two runtimes compute.
The letterbox follows Ultralytics' (centred, grey 114 padding, bilinear resize) so boxes agree
with ``YOLO.predict`` on the same weights as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114
_CLASS_OFFSET = 7680.0  # shifts boxes per class so one NMS pass never merges different classes


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected box in original image pixels (x1, y1, x2, y2)."""

    class_id: int
    class_name: str
    score: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class ImageDetections:
    """All detections of one image, best score first."""

    image_sha256: str
    width: int
    height: int
    detections: tuple[Detection, ...]


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an image was fitted into the square network input."""

    gain_x: float
    gain_y: float
    pad_x: int
    pad_y: int
    width: int
    height: int


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Resize (keeping aspect ratio) and pad an (H, W, 3) uint8 image to (1, 3, size, size) float32."""
    height, width = rgb.shape[:2]
    gain = min(size / height, size / width)
    new_w, new_h = max(round(width * gain), 1), max(round(height * gain), 1)
    image = rgb if (new_w, new_h) == (width, height) else cv2.resize(
        np.ascontiguousarray(rgb), (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = (size - new_w) / 2, (size - new_h) / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    image = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT,
                               value=(PAD_VALUE, PAD_VALUE, PAD_VALUE))
    tensor = image.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    # Per-axis gains from the rounded sizes, as Ultralytics scales boxes back.
    fit = Letterbox(new_w / width, new_h / height, left, top, width, height)
    return np.ascontiguousarray(tensor), fit


def _iou_one_to_many(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, best score first. boxes: (N, 4) xyxy."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        order = rest[_iou_one_to_many(boxes[best], boxes[rest]) <= iou]
    return np.asarray(keep, dtype=np.int64)


def decode(raw: np.ndarray, conf: float, iou: float, max_det: int,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw head output (4 + C, A) -> boxes (K, 4) xyxy, scores (K,), classes (K,) after NMS."""
    pred = raw.T
    class_scores = pred[:, 4:]
    classes = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(pred)), classes]
    mask = scores > conf
    xywh, scores, classes = pred[mask, :4], scores[mask], classes[mask]
    boxes = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], axis=1)
    keep = nms(boxes + classes[:, None] * _CLASS_OFFSET, scores, iou)[:max_det]
    return boxes[keep], scores[keep], classes[keep]


def to_original(boxes: np.ndarray, fit: Letterbox) -> np.ndarray:
    """Network-input boxes -> original image pixels, clipped to the image."""
    out = boxes.astype(np.float64).copy()
    out[:, [0, 2]] = ((out[:, [0, 2]] - fit.pad_x) / fit.gain_x).clip(0, fit.width)
    out[:, [1, 3]] = ((out[:, [1, 3]] - fit.pad_y) / fit.gain_y).clip(0, fit.height)
    return out


def postprocess(raw: np.ndarray, fit: Letterbox, names: Sequence[str], sha256: str,
                conf: float, iou: float, max_det: int) -> ImageDetections:
    """Decode one image's raw output (4 + C, A) into :class:`ImageDetections`."""
    boxes, scores, classes = decode(raw, conf, iou, max_det)
    boxes = to_original(boxes, fit)
    detections = tuple(
        Detection(class_id=int(c), class_name=names[int(c)], score=float(s),
                  box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])))
        for b, s, c in zip(boxes, scores, classes, strict=True)
    )
    return ImageDetections(image_sha256=sha256, width=fit.width, height=fit.height,
                           detections=detections)
