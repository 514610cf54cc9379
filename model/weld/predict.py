"""Weld detectors: the same predict path on PyTorch weights or on an exported ONNX file.

``TorchWeldDetector`` runs a :class:`~plantpulse.model.weld.checkpoint.WeldModel`;
``OnnxWeldDetector`` runs an ONNX file with onnxruntime only (no torch, no Ultralytics needed on
an edge station). Both go through :mod:`~plantpulse.model.weld.inference`, so agreement between
them tests the exported graph and nothing else.
"""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from plantpulse.data.core.errors import CheckpointError
from plantpulse.data.core.records import ValidatedImage
from plantpulse.model.weld.inference import ImageDetections, letterbox, postprocess

ONNX_META_KEY = "plantpulse"


@dataclass(frozen=True, slots=True)
class PredictOptions:
    """Score and overlap thresholds. ``conf`` is low on purpose: the verdict threshold decides."""

    conf: float = 0.01
    iou: float = 0.7
    max_det: int = 100


class WeldDetector(Protocol):
    names: tuple[str, ...]
    imgsz: int
    version: str

    def forward(self, tensor: np.ndarray) -> np.ndarray:
        """(1, 3, S, S) float32 in 0..1 -> raw head output (4 + n_classes, n_anchors)."""


def detect(detector: WeldDetector, images: Iterable[ValidatedImage],
           options: PredictOptions | None = None) -> list[ImageDetections]:
    """Detections for each image, in input order."""
    options = options or PredictOptions()
    results = []
    for image in images:
        tensor, fit = letterbox(image.rgb, detector.imgsz)
        raw = detector.forward(tensor)
        results.append(postprocess(raw, fit, detector.names, image.sha256,
                                   options.conf, options.iou, options.max_det))
    return results


def inference_head_off(network: Any) -> None:
    """Use the one-to-many head + NMS for every architecture (YOLO26 also has an NMS-free head)."""
    head = network.model[-1]
    if getattr(head, "one2one_cv2", None) is not None:
        head.end2end = False


@dataclass(frozen=True)
class TorchWeldDetector:
    """PyTorch inference on a fused copy of a weld model's network."""

    network: Any
    names: tuple[str, ...]
    imgsz: int
    version: str

    @classmethod
    def from_model(cls, model: Any, imgsz: int | None = None) -> TorchWeldDetector:
        network = copy.deepcopy(model.network).float().eval()
        inference_head_off(network)
        network = network.fuse()
        return cls(network, tuple(model.card.names), imgsz or model.card.imgsz, model.version)

    def forward(self, tensor: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.network(torch.from_numpy(tensor))
        out = out[0] if isinstance(out, tuple | list) else out
        return out[0].numpy()


def _onnx_metadata(session: Any, path: Path) -> tuple[tuple[str, ...], int, str]:
    meta = session.get_modelmeta().custom_metadata_map
    if ONNX_META_KEY in meta:
        info = json.loads(meta[ONNX_META_KEY])
        return tuple(info["names"]), int(info["imgsz"]), str(info["version"])
    if "names" in meta and "imgsz" in meta:  # an ONNX file exported by Ultralytics itself
        names = ast.literal_eval(meta["names"])
        imgsz = ast.literal_eval(meta["imgsz"])
        return tuple(names[i] for i in sorted(names)), int(imgsz[0]), path.stem
    raise CheckpointError(f"{path}: ONNX file has no class names / image size metadata.")


@dataclass(frozen=True)
class OnnxWeldDetector:
    """onnxruntime inference on an exported weld detector (CPU execution provider)."""

    session: Any
    input_name: str
    names: tuple[str, ...]
    imgsz: int
    version: str

    @classmethod
    def load(cls, path: Path, threads: int | None = None) -> OnnxWeldDetector:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"ONNX file {path} does not exist; run 'plantpulse weld export'.")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:
            raise CheckpointError(f"{path}: onnxruntime cannot load it ({err}).") from err
        names, imgsz, version = _onnx_metadata(session, path)
        return cls(session, session.get_inputs()[0].name, names, imgsz, version)

    def forward(self, tensor: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: tensor})[0][0]
