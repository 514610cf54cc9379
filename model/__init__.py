"""PlantPulse's multimodal hierarchical mixture-of-experts model (see docs/model.md).

Public names: :class:`ModelConfig` and :func:`preset`, :class:`PlantPulseModel`,
:class:`ModelInput`, :class:`ModelOutput`, checkpoint I/O and the inference API. Submodules are
small and named after the part they hold (embeddings, router, moe, attention, fusion, heads, ...).
The YOLO weld detector lives in ``plantpulse.model.weld``.
"""

from plantpulse.model.moe.batch import ModelInput
from plantpulse.model.moe.config import MODALITIES, ModelConfig, TaskSpec, preset
from plantpulse.model.moe.network import ModelOutput, PlantPulseModel

__all__ = ["MODALITIES", "ModelConfig", "ModelInput", "ModelOutput", "PlantPulseModel", "TaskSpec",
           "preset"]
