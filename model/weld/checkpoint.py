"""Weld detector checkpoints as safetensors: weights plus a model card, no pickle.

Ultralytics ``.pt`` files are Python pickles, which can run arbitrary code when loaded. PlantPulse
stores its own detectors as one ``.safetensors`` file: half-precision weights plus JSON metadata
(the network's YAML definition, class names, image size and a model card). Loading checks the
stored YAML against an allow-list of YOLO layers (:mod:`.architecture`: Ultralytics would
otherwise resolve any name in it, including functions that unpickle files), rebuilds the network
from it and copies the tensors in, so a checkpoint can be inspected and loaded without trusting
it. A ``.pt`` file is only read when the user explicitly says they trust it (``allow_pickle=True``,
the CLI's ``--weights FILE --trust-pickle``), e.g. pretrained weights to start training from.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from plantpulse.data.core.errors import CheckpointError
from plantpulse.data.core.resources import package_path
from plantpulse.model.weld.architecture import check_architecture
from plantpulse.model.weld.quantize import pack_state, quantize_state, unpack_state
from plantpulse.model.weld.runtime import ultralytics

FORMAT = "plantpulse-weld-yolo/1"
#: The detector shipped with PlantPulse (see checkpoints/README.md for the command that made it).
SHIPPED_CHECKPOINT = package_path("plantpulse.model.weld", "checkpoints", "weld-yolo11n-320.safetensors")


@dataclass(frozen=True, slots=True)
class WeldModelCard:
    """What travels with the weights: enough to use, compare and audit a detector."""

    names: tuple[str, ...]
    imgsz: int
    architecture: str
    created_at: str
    parent: str | None = None
    reject_classes: tuple[str, ...] = ()
    reject_threshold: float | None = None
    train: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WeldModelCard:
        data = json.loads(text)
        data["names"] = tuple(data["names"])
        data["reject_classes"] = tuple(data.get("reject_classes", ()))
        return cls(**data)


@dataclass(frozen=True, slots=True)
class WeldModel:
    """A detection network (float32, eval mode) with its card and content version."""

    network: torch.nn.Module
    card: WeldModelCard
    version: str
    int8_scales: dict[str, torch.Tensor] | None = None  # set when weights are int8-quantised

    def with_card(self, **changes: Any) -> WeldModel:
        return WeldModel(self.network, dataclasses.replace(self.card, **changes), self.version,
                         self.int8_scales)


def weights_version(network: torch.nn.Module, architecture: str) -> str:
    """A content address for the weights: ``<architecture>-<12 hex digits of sha256>``."""
    digest = hashlib.sha256()
    for name, tensor in sorted(network.state_dict().items()):
        digest.update(name.encode())
        if tensor.is_floating_point():
            tensor = tensor.detach().to(torch.float16)
        digest.update(tensor.cpu().numpy().tobytes())
    return f"{architecture}-{digest.hexdigest()[:12]}"


def make_weld_model(network: torch.nn.Module, card: WeldModelCard,
                    int8_scales: dict[str, torch.Tensor] | None = None) -> WeldModel:
    network = network.float().eval()
    with torch.no_grad():  # float16 is what a checkpoint stores, so evaluate exactly that
        for tensor in network.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    return WeldModel(network, card, weights_version(network, card.architecture), int8_scales)


def quantize_int8(model: WeldModel) -> WeldModel:
    """A copy of ``model`` whose convolution weights are int8-representable (see ``quantize``).

    Evaluate the returned model, not the original: it is what the int8 checkpoint holds.
    """
    network = copy.deepcopy(model.network)
    state, scales = quantize_state(network.state_dict())
    network.load_state_dict(state)
    card = dataclasses.replace(model.card, train={**model.card.train, "weights": "int8"})
    return make_weld_model(network, card, scales)


def save_weld_model(model: WeldModel, path: Path) -> Path:
    """Write ``model`` to ``path`` (``.safetensors``): weights, YAML and card as metadata.

    Weights are stored in float16, or as int8 plus per-channel scales for a model made by
    :func:`~plantpulse.model.weld.quantize.quantize_int8` (about half the file size).
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path}: weld checkpoints are written as .safetensors files.")
    if weights_version(model.network, model.card.architecture) != model.version:
        msg = ("The network's weights changed after its version was computed; rebuild the model "
               "with make_weld_model() before saving.")
        raise CheckpointError(msg)
    tensors = pack_state(model.network.state_dict(), model.int8_scales)
    metadata = {"format": FORMAT, "version": model.version, "card": model.card.to_json(),
                "yaml": json.dumps(model.network.yaml)}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    return path


def _read_metadata(path: Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable safetensors file ({err}).") from err
    if metadata.get("format") != FORMAT:
        msg = (f"{path}: not a PlantPulse weld checkpoint (format {metadata.get('format')!r}, "
               f"expected {FORMAT!r}).")
        raise CheckpointError(msg)
    return metadata


def read_card(path: Path) -> dict[str, Any]:
    """The model card of a checkpoint as plain data, without loading the weights."""
    metadata = _read_metadata(Path(path))
    return {**json.loads(metadata["card"]), "version": metadata.get("version")}


def build_network(yaml_dict: dict[str, Any], n_classes: int, source: str) -> torch.nn.Module:
    """An untrained Ultralytics detection network from its YAML definition.

    The definition is checked first (see :mod:`.architecture`); ``source`` names the file it
    came from in the error.
    """
    check_architecture(yaml_dict, source)
    ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    return DetectionModel(cfg=dict(yaml_dict), ch=3, nc=n_classes, verbose=False)


def _set_plain_attributes(network: torch.nn.Module, **values: Any) -> None:
    """Set the plain (non-tensor) attributes Ultralytics reads from a network, in order.

    ``nn.Module.__setattr__`` stores any other value as an ordinary attribute at run time, but
    torch's stubs type it for tensors and modules only, so ``network.names = {...}`` would not
    type-check.
    """
    for name, value in values.items():
        setattr(network, name, value)


def untrained_weld_model(names: tuple[str, ...], imgsz: int = 320,
                         model_yaml: str = "yolo11n.yaml") -> WeldModel:
    """A randomly initialised detector (for tests and smoke runs; train it before use)."""
    ultralytics()
    from ultralytics.nn.tasks import yaml_model_load

    network = build_network(yaml_model_load(model_yaml), len(names), model_yaml)
    _set_plain_attributes(network, names=dict(enumerate(names)))
    card = WeldModelCard(names=tuple(names), imgsz=imgsz, architecture=Path(model_yaml).stem,
                         created_at=datetime.now(UTC).isoformat(timespec="seconds"))
    return make_weld_model(network, card)


def load_weld_model(path: Path) -> WeldModel:
    """Load a ``.safetensors`` weld checkpoint written by :func:`save_weld_model`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Weld checkpoint {path} does not exist. Train one with "
                              "'plantpulse weld train' or pass the path of an existing one.")
    if path.suffix != ".safetensors":
        msg = (f"{path}: expected a .safetensors weld checkpoint. Ultralytics .pt files are pickles "
               "and are only accepted as user-supplied starting weights (--weights).")
        raise CheckpointError(msg)
    metadata = _read_metadata(path)
    card = WeldModelCard.from_json(metadata["card"])
    network = build_network(json.loads(metadata["yaml"]), len(card.names), str(path))
    state, scales = unpack_state(load_file(str(path)))
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not fit the stored network ({err}).") from err
    _set_plain_attributes(network, names=dict(enumerate(card.names)))
    model = make_weld_model(network, card, scales)
    if model.version != metadata.get("version"):
        msg = f"{path}: weights do not match the stored version {metadata.get('version')}; corrupt?"
        raise CheckpointError(msg)
    return model


def as_yolo(model: WeldModel, pt_path: Path | None = None) -> Any:
    """An Ultralytics ``YOLO`` object around a *copy* of the network (Ultralytics fuses in place)."""
    network = copy.deepcopy(model.network).float().eval()
    _set_plain_attributes(network, names=dict(enumerate(model.card.names)))
    if pt_path is not None:  # the exporter names its output after this path
        _set_plain_attributes(network, pt_path=str(pt_path))
    package = ultralytics()
    from ultralytics.cfg import DEFAULT_CFG_DICT

    # Ultralytics reads defaults from the network, as if it had come from one of its .pt files.
    _set_plain_attributes(network, args={**DEFAULT_CFG_DICT, "imgsz": model.card.imgsz, "data": ""},
                          task="detect")
    # A fixed built-in YAML, never the stored ``yaml_file``: YOLO() loads a .pt path as a pickle.
    # The network built from it is replaced at once.
    yolo = package.YOLO("yolo11n.yaml", task="detect")
    yolo.model = network
    return yolo


def load_user_weights(path: Path, *, allow_pickle: bool) -> torch.nn.Module:
    """A network from a user-supplied Ultralytics ``.pt`` file (a pickle: trusted files only)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Weights file {path} does not exist.")
    if not allow_pickle:
        msg = (f"{path}: .pt files are Python pickles that can run code when loaded. Start from a "
               "PlantPulse .safetensors checkpoint instead, or, if you trust this file, confirm it "
               "explicitly (allow_pickle=True; on the command line --trust-pickle).")
        raise CheckpointError(msg)
    ultralytics()
    from ultralytics.nn.tasks import load_checkpoint

    try:
        network, _ = load_checkpoint(str(path))
    except Exception as err:
        raise CheckpointError(f"{path}: cannot load Ultralytics weights ({err}).") from err
    return network.float().eval()
