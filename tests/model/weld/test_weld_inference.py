"""Letterbox, decoding and NMS shared by the PyTorch and ONNX predictors."""

from __future__ import annotations

import numpy as np
import pytest

from plantpulse.model.weld.inference import decode, letterbox, nms, postprocess, to_original


@pytest.mark.parametrize(
    ("height", "width"), [(128, 128), (90, 160), (300, 120), (40, 50)],
    ids=["square", "wide", "tall", "upscale"],
)
def test_letterbox_shape_and_inverse(height: int, width: int) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    tensor, fit = letterbox(rgb, 96)
    assert tensor.shape == (1, 3, 96, 96) and tensor.dtype == np.float32
    assert tensor.min() >= 0.0 and tensor.max() <= 1.0
    box = np.array([[0.1 * width, 0.2 * height, 0.7 * width, 0.9 * height]])
    forward = box.copy()
    forward[:, [0, 2]] = forward[:, [0, 2]] * fit.gain_x + fit.pad_x
    forward[:, [1, 3]] = forward[:, [1, 3]] * fit.gain_y + fit.pad_y
    assert np.allclose(to_original(forward, fit), box, atol=1e-6)


def test_letterbox_matches_ultralytics() -> None:
    from plantpulse.model.weld.runtime import ultralytics

    ultralytics()
    from ultralytics.data.augment import LetterBox

    rgb = np.random.default_rng(1).integers(0, 256, (90, 161, 3), dtype=np.uint8)
    theirs = LetterBox((96, 96), auto=False, stride=32)(image=rgb)
    ours, _ = letterbox(rgb, 96)
    assert np.array_equal(np.round(ours[0].transpose(1, 2, 0) * 255).astype(np.uint8), theirs)


def test_nms_keeps_best_of_overlapping() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=float)
    keep = nms(boxes, np.array([0.8, 0.9, 0.5]), iou=0.5)
    assert keep.tolist() == [1, 2]


def raw_output(rows: list[tuple[float, float, float, float, list[float]]]) -> np.ndarray:
    """(4 + C, A) head output from (cx, cy, w, h, class scores) rows."""
    return np.array([[*xywh, *scores] for *xywh, scores in rows], dtype=np.float32).T


def test_decode_is_class_aware() -> None:
    raw = raw_output([(50, 50, 20, 20, [0.9, 0.0, 0.0]), (51, 51, 20, 20, [0.0, 0.0, 0.8]),
                      (52, 50, 20, 20, [0.7, 0.0, 0.0]), (10, 10, 4, 4, [0.0, 0.005, 0.0])])
    boxes, scores, classes = decode(raw, conf=0.01, iou=0.5, max_det=10)
    assert classes.tolist() == [0, 2]  # the second class-0 box is suppressed, not the class-2 one
    assert scores.tolist() == pytest.approx([0.9, 0.8])
    assert boxes[0].tolist() == pytest.approx([40, 40, 60, 60])


def test_postprocess_maps_to_original_pixels() -> None:
    rgb = np.zeros((50, 100, 3), dtype=np.uint8)
    _, fit = letterbox(rgb, 64)  # gain 0.64, padded 16 px top and bottom
    raw = raw_output([(32, 32, 32, 16, [0.1, 0.95, 0.2])])
    out = postprocess(raw, fit, ("Bad Weld", "Good Weld", "Defect"), "ab" * 32, 0.01, 0.7, 100)
    (det,) = out.detections
    assert det.class_name == "Good Weld" and det.score == pytest.approx(0.95)
    assert det.box == pytest.approx((25.0, 12.5, 75.0, 37.5))
    assert (out.width, out.height) == (100, 50)
