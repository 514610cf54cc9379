"""ONNX export: the ONNX Runtime predictor finds the boxes the PyTorch one finds."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from plantpulse.connectors.images.validation import validate_image
from plantpulse.data.core.errors import CheckpointError
from plantpulse.model.weld.agreement import compare_detections
from plantpulse.model.weld.checkpoint import (
    SHIPPED_CHECKPOINT,
    WeldModel,
    as_yolo,
    load_weld_model,
    make_weld_model,
    untrained_weld_model,
)
from plantpulse.model.weld.export import export_onnx
from plantpulse.model.weld.inference import Detection, ImageDetections
from plantpulse.model.weld.predict import (
    OnnxWeldDetector,
    PredictOptions,
    TorchWeldDetector,
    detect,
)
from plantpulse.model.weld.synthetic import NAMES, encode_png

IMGSZ = 128
SAMPLE_IMAGES = Path(__file__).resolve().parents[3] / "data" / "sample" / "weld" / "images"


def lively_model(seed: int = 0) -> WeldModel:
    """An untrained detector with its class bias zeroed, so scores sit near 0.5 (boxes everywhere)."""
    torch.manual_seed(seed)
    model = untrained_weld_model(NAMES, imgsz=IMGSZ)
    for branch in model.network.model[-1].cv3:
        branch[-1].bias.data.zero_()
    card = replace(model.card, reject_threshold=0.5, reject_classes=("Bad Weld", "Defect"))
    return make_weld_model(model.network, card)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[WeldModel, Path]:
    model = lively_model()
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "weld.onnx")
    return model, path


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> tuple[WeldModel, Path]:
    """The trained detector shipped in the repository, exported to ONNX."""
    model = load_weld_model(SHIPPED_CHECKPOINT)
    return model, export_onnx(model, tmp_path_factory.mktemp("onnx") / "shipped.onnx")


def weld_images() -> list:
    """The real sample weld photos, plus non-square crops of some (padded letterbox)."""
    paths = sorted(SAMPLE_IMAGES.glob("*.jpg"))
    out = [validate_image(path) for path in paths]
    for index, image in enumerate(out[:5]):
        crop = np.ascontiguousarray(image.rgb[: 300 + 40 * index, 50:])
        out.append(validate_image(encode_png(crop), name=f"crop{index}.png"))
    return out


def test_raw_outputs_agree(exported: tuple[WeldModel, Path]) -> None:
    model, path = exported
    tensor = np.random.default_rng(0).random((1, 3, IMGSZ, IMGSZ), dtype=np.float32)
    ours = TorchWeldDetector.from_model(model).forward(tensor)
    theirs = OnnxWeldDetector.load(path).forward(tensor)
    assert ours.shape == theirs.shape == (4 + len(NAMES), 16 * 16 + 8 * 8 + 4 * 4)
    assert np.allclose(ours, theirs, atol=1e-3, rtol=1e-4)


def test_boxes_agree_on_real_welds(shipped: tuple[WeldModel, Path]) -> None:
    model, path = shipped
    batch = weld_images()
    torch_results = detect(TorchWeldDetector.from_model(model), batch)
    onnx_results = detect(OnnxWeldDetector.load(path), batch)
    agreement = compare_detections(torch_results, onnx_results, min_score=0.1, min_iou=0.99)
    assert agreement.images == len(batch) >= 15
    assert agreement.boxes >= 20
    assert agreement.all_matched, agreement
    assert agreement.max_corner_px < 0.5
    assert agreement.max_score < 1e-3


def test_torch_predictor_matches_ultralytics_predict(shipped: tuple[WeldModel, Path]) -> None:
    model, _ = shipped
    images = weld_images()[:8]  # 640 x 640 photos: Ultralytics pads them like we do
    ours = detect(TorchWeldDetector.from_model(model), images, PredictOptions(conf=0.25))
    theirs = as_yolo(model).predict([im.rgb[..., ::-1] for im in images], imgsz=model.card.imgsz,
                                    conf=0.25, iou=0.7, device="cpu", verbose=False)
    agreement = compare_detections(ours, [_from_ultralytics(r, model) for r in theirs],
                                   min_score=0.25, min_iou=0.98)
    assert agreement.boxes >= 5 and agreement.all_matched, agreement
    assert agreement.max_corner_px < 1.0


def _from_ultralytics(result, model: WeldModel) -> ImageDetections:
    boxes = result.boxes
    detections = tuple(
        Detection(int(c), model.card.names[int(c)], float(s), tuple(float(v) for v in b))
        for b, s, c in zip(boxes.xyxy.numpy(), boxes.conf.numpy(), boxes.cls.numpy(), strict=True))
    return ImageDetections("", result.orig_shape[1], result.orig_shape[0], detections)


def test_onnx_metadata(exported: tuple[WeldModel, Path]) -> None:
    model, path = exported
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    info = json.loads(meta["plantpulse"])
    assert info == {"names": list(NAMES), "imgsz": IMGSZ, "version": model.version,
                    "reject_classes": ["Bad Weld", "Defect"], "reject_threshold": 0.5}
    detector = OnnxWeldDetector.load(path)
    assert (detector.names, detector.imgsz, detector.version) == (NAMES, IMGSZ, model.version)


def test_export_keeps_the_model_unfused(exported: tuple[WeldModel, Path]) -> None:
    model, _ = exported
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.network.modules())


@pytest.mark.parametrize(("name", "match"), [("weld.pt", "must end in .onnx")], ids=["suffix"])
def test_export_target_must_be_onnx(tmp_path: Path, name: str, match: str) -> None:
    with pytest.raises(CheckpointError, match=match):
        export_onnx(lively_model(), tmp_path / name)


def test_onnx_load_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist; run 'plantpulse weld export'"):
        OnnxWeldDetector.load(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="onnxruntime cannot load it"):
        OnnxWeldDetector.load(bad)
