"""Check a YOLO network definition before Ultralytics builds it.

Ultralytics turns a model YAML into a network by looking every layer's module name up in the
globals of ``ultralytics.nn.tasks`` and by ``eval``-uating the optional ``activation`` key. A
definition read from a file (the YAML stored in a ``.safetensors`` checkpoint, or a ``--model``
YAML) can therefore name any function there, such as ``torch_safe_load`` with a path argument,
which unpickles (and runs) an attacker's file. So a definition is built only when it uses the
detection layers of the standard YOLO11 / YOLO12 / YOLOv8 / YOLOv5 YAMLs, with plain numbers,
``None`` and a few known words as arguments, and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from plantpulse.data.core.errors import CheckpointError

#: Layers of the standard Ultralytics detection YAMLs (yolo11, yolo12, yolov8 incl. ghost, yolov5u).
ALLOWED_MODULES = frozenset({
    "Conv", "GhostConv", "C2f", "C3", "C3k2", "C3Ghost", "C2PSA", "A2C2f", "SPPF", "Concat",
    "Detect", "nn.Upsample",
})
#: Words an argument may be: ``nc`` is replaced by the class count, the others are literals.
ALLOWED_WORDS = frozenset({"nc", "None", "nearest"})
_NUMBER_KEYS = ("nc", "channels", "ch", "depth_multiple", "width_multiple", "reg_max")
_ALLOWED_KEYS = frozenset({"backbone", "head", "scales", "scale", "yaml_file", "end2end",
                           *_NUMBER_KEYS})
_MAX_LAYERS, _MAX_REPEATS, _MAX_INT = 512, 64, 65_536


class UntrustedArchitectureError(CheckpointError):
    """A network definition names something other than the allowed YOLO layers and arguments."""


def check_architecture(definition: Any, source: str) -> None:
    """Refuse ``definition`` (a YOLO model YAML as a dict) unless it is plain YOLO layers.

    ``source`` names the file it came from, for the message. Raises
    :class:`UntrustedArchitectureError` before anything is built.
    """
    if not isinstance(definition, Mapping):
        _refuse(source, f"the network definition is a {type(definition).__name__}, not a mapping")
    unknown = sorted(str(key) for key in definition if key not in _ALLOWED_KEYS)
    if unknown:
        hint = " ('activation' is evaluated as Python code)" if "activation" in unknown else ""
        _refuse(source, f"the network definition has keys {unknown} that are not allowed{hint}")
    _check_top_level(definition, source)
    layers = list(definition.get("backbone") or []) + list(definition.get("head") or [])
    if not layers or len(layers) > _MAX_LAYERS:
        _refuse(source, f"the network definition has {len(layers)} layers (1 to {_MAX_LAYERS} allowed)")
    for index, layer in enumerate(layers):
        _check_layer(index, layer, len(layers), source)


def _check_top_level(definition: Mapping[str, Any], source: str) -> None:
    for key in ("backbone", "head"):
        if not isinstance(definition.get(key, []), list):
            _refuse(source, f"'{key}' must be a list of layers")
    for key in _NUMBER_KEYS:
        if key in definition and not _is_number(definition[key]):
            _refuse(source, f"'{key}' must be a number, got {_show(definition[key])}")
    if definition.get("end2end") not in (None, True, False):
        _refuse(source, f"'end2end' must be true or false, got {_show(definition['end2end'])}")
    scale = definition.get("scale", "")
    if scale not in ("", None, "n", "s", "m", "l", "x"):
        _refuse(source, f"'scale' must be one of n, s, m, l, x, got {_show(scale)}")
    scales = definition.get("scales") or {}
    if not isinstance(scales, Mapping) or not all(
            isinstance(name, str) and len(name) <= 8 and isinstance(gains, list) and len(gains) == 3
            and all(_is_number(g) for g in gains) for name, gains in scales.items()):
        _refuse(source, "'scales' must map a size letter to [depth, width, max_channels]")
    name = definition.get("yaml_file", "")
    if not isinstance(name, str) or len(name) > 512:
        _refuse(source, "'yaml_file' must be a file name")


def _check_layer(index: int, layer: Any, n_layers: int, source: str) -> None:
    if not isinstance(layer, list) or len(layer) != 4:
        _refuse(source, f"layer {index} must be [from, repeats, module, args], got {_show(layer)}")
    origin, repeats, module, args = layer
    if not isinstance(module, str) or module not in ALLOWED_MODULES:
        _refuse(source, f"layer {index} ({_show(module)}) is not an allowed YOLO module "
                        f"(allowed: {', '.join(sorted(ALLOWED_MODULES))})")
    froms = origin if isinstance(origin, list) else [origin]
    if not froms or not all(_is_int(f) and -n_layers <= f < n_layers for f in froms):
        _refuse(source, f"layer {index} ({module}) takes its input from {_show(origin)}, "
                        "which is not a layer index")
    if not _is_int(repeats) or not 1 <= repeats <= _MAX_REPEATS:
        _refuse(source, f"layer {index} ({module}) repeats {_show(repeats)} times "
                        f"(1 to {_MAX_REPEATS} allowed)")
    if not isinstance(args, list) or not all(_plain_argument(a, depth=0) for a in args):
        _refuse(source, f"layer {index} ({module}) has arguments {_show(args)}; only numbers, "
                        f"true/false, lists of those and the words {sorted(ALLOWED_WORDS)} are allowed")


def _plain_argument(value: Any, depth: int) -> bool:
    if value is None or isinstance(value, bool) or _is_number(value):
        return True
    if isinstance(value, str):
        return value in ALLOWED_WORDS
    if isinstance(value, list) and depth < 2 and len(value) <= 16:
        return all(_plain_argument(v, depth + 1) for v in value)
    return False


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if _is_int(value):
        return abs(value) <= _MAX_INT
    return isinstance(value, float) and math.isfinite(value) and abs(value) <= _MAX_INT


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _refuse(source: str, problem: str) -> None:
    msg = (f"{source}: {problem}. The file is not trusted and nothing was built from it; use a "
           "checkpoint written by 'plantpulse weld train' or a standard Ultralytics model YAML "
           "(e.g. yolo11n.yaml).")
    raise UntrustedArchitectureError(msg)
