"""Export a weld detector to ONNX for edge inspection stations.

The export goes through Ultralytics' exporter (fixed input size, batch 1, no graph simplifier, so
no extra package is needed) and adds PlantPulse metadata: class names, input size, model version
and the operating verdict threshold, so :class:`~plantpulse.model.weld.predict.OnnxWeldDetector`
needs nothing but the ``.onnx`` file.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from plantpulse.data.core.errors import CheckpointError
from plantpulse.model.weld.checkpoint import WeldModel, as_yolo
from plantpulse.model.weld.predict import ONNX_META_KEY, inference_head_off

DEFAULT_OPSET = 17


def _add_metadata(path: Path, model: WeldModel, imgsz: int) -> None:
    import onnx

    graph = onnx.load(str(path))
    info = {"names": list(model.card.names), "imgsz": imgsz, "version": model.version,
            "reject_classes": list(model.card.reject_classes),
            "reject_threshold": model.card.reject_threshold}
    entry = graph.metadata_props.add()
    entry.key, entry.value = ONNX_META_KEY, json.dumps(info)
    onnx.save(graph, str(path))


def export_onnx(model: WeldModel, output: Path, imgsz: int | None = None,
                opset: int = DEFAULT_OPSET) -> Path:
    """Write ``model`` as an ONNX file at ``output``; input ``images`` (1, 3, S, S) float32."""
    output = Path(output)
    if output.suffix != ".onnx":
        raise CheckpointError(f"{output}: the export target must end in .onnx.")
    size = imgsz or model.card.imgsz
    with tempfile.TemporaryDirectory(prefix="plantpulse-export-") as tmp:
        yolo = as_yolo(model, pt_path=Path(tmp) / "weld.pt")
        inference_head_off(yolo.model)
        produced = yolo.export(format="onnx", imgsz=size, batch=1, dynamic=False, simplify=False,
                               nms=False, opset=opset, device="cpu", verbose=False)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(produced), output)
    _add_metadata(output, model, size)
    return output
