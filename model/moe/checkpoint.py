"""Versioned model checkpoints: safetensors weights + config, metrics and data fingerprint.

A checkpoint is one ``.safetensors`` file. Its header metadata holds the format version, the full
model config (JSON), metrics, the data fingerprint, the kind (teacher/student) and a sha256 over
all tensor bytes. Loading never unpickles anything: a corrupted file, a checkpoint of another
architecture or a config that differs from the expected one raise :class:`CheckpointError` with
what was seen and what to do. Resumable training state (optimiser, step, best weights) lives
beside it in a ``.state.safetensors`` file: its tensors as safetensors, everything else as JSON in
the header, so resuming never unpickles either.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from plantpulse.data.core.errors import CheckpointError, ConfigError
from plantpulse.model.moe.config import ModelConfig, from_dict
from plantpulse.model.moe.network import PlantPulseModel

FORMAT = "plantpulse-moe"
FORMAT_VERSION = 1
_VERSIONED = re.compile(r"^(?P<name>.+)-v(?P<version>\d+)\.safetensors$")


@dataclass(frozen=True, slots=True)
class CheckpointMeta:
    """Everything a checkpoint says about itself besides the weights."""

    config: ModelConfig
    kind: str
    name: str
    version: int
    metrics: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    tensors_sha256: str = ""


def _tensor_digest(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(key.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(model: PlantPulseModel, path: Path | str, *, kind: str = "teacher",
                    name: str = "plantpulse", version: int = 1, metrics: dict[str, Any] | None = None,
                    data_fingerprint: str = "", extra: dict[str, Any] | None = None,
                    created_at: str | None = None) -> Path:
    """Write ``model`` to ``path`` (a ``.safetensors`` file) atomically; returns the path.
    ``created_at`` (ISO time) keeps a rewritten checkpoint's creation time; default now."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT, "format_version": str(FORMAT_VERSION), "kind": kind, "name": name,
        "version": str(version), "config": json.dumps(model.cfg.to_dict()),
        "metrics": json.dumps(metrics or {}), "data_fingerprint": data_fingerprint,
        "extra": json.dumps(extra or {}), "created_at": created_at or datetime.now(UTC).isoformat(),
        "tensors_sha256": _tensor_digest(state),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(state, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def next_version_path(folder: Path | str, name: str) -> tuple[Path, int]:
    """``folder/name-v<N>.safetensors`` with N one past the highest existing version."""
    folder = Path(folder)
    versions = [int(m["version"]) for p in folder.glob(f"{name}-v*.safetensors")
                if (m := _VERSIONED.match(p.name)) and m["name"] == name]
    version = max(versions, default=0) + 1
    return folder / f"{name}-v{version}.safetensors", version


def latest_checkpoint(folder: Path | str, name: str) -> Path | None:
    """The highest-versioned checkpoint ``name`` in ``folder``, or None."""
    path, version = next_version_path(folder, name)
    return None if version == 1 else path.with_name(f"{name}-v{version - 1}.safetensors")


def read_metadata(path: Path | str) -> CheckpointMeta:
    """Read and check a checkpoint's header without loading weights."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist. Train one with `plantpulse train`.")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        msg = (f"Checkpoint {path} is corrupted or not a safetensors file ({err}). "
               f"Re-train it or restore it from a backup.")
        raise CheckpointError(msg) from err
    return _parse_meta(path, meta)


def _parse_meta(path: Path, meta: dict[str, str]) -> CheckpointMeta:
    if meta.get("format") != FORMAT:
        msg = f"{path} is a safetensors file but not a PlantPulse checkpoint (format {meta.get('format')!r})."
        raise CheckpointError(msg)
    if int(meta.get("format_version", "0")) > FORMAT_VERSION:
        msg = (f"{path} has checkpoint format {meta['format_version']}, newer than this PlantPulse "
               f"supports ({FORMAT_VERSION}); upgrade PlantPulse.")
        raise CheckpointError(msg)
    try:
        config = from_dict(json.loads(meta["config"]))
        metrics, extra = json.loads(meta.get("metrics", "{}")), json.loads(meta.get("extra", "{}"))
    except (KeyError, json.JSONDecodeError, ConfigError) as err:
        raise CheckpointError(f"{path}: the stored model config is unreadable ({err}).") from err
    return CheckpointMeta(config=config, kind=meta.get("kind", ""), name=meta.get("name", ""),
                          version=int(meta.get("version", "1")), metrics=metrics,
                          data_fingerprint=meta.get("data_fingerprint", ""), extra=extra,
                          created_at=meta.get("created_at", ""),
                          tensors_sha256=meta.get("tensors_sha256", ""))


def _config_differences(stored: ModelConfig, expected: ModelConfig) -> list[str]:
    a, b = stored.to_dict(), expected.to_dict()
    return [f"{key}: checkpoint has {a.get(key)!r}, expected {b.get(key)!r}"
            for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]


def load_checkpoint(path: Path | str, expected_config: ModelConfig | None = None,
                    device: str | torch.device = "cpu") -> tuple[PlantPulseModel, CheckpointMeta]:
    """Rebuild the model from a checkpoint and verify its weights; see the module docstring."""
    path = Path(path)
    meta = read_metadata(path)
    if expected_config is not None:
        diffs = _config_differences(meta.config, expected_config)
        if diffs:
            msg = (f"Checkpoint {path} does not match the expected model config: "
                   f"{'; '.join(diffs[:5])}. Load it without a config or retrain.")
            raise CheckpointError(msg)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            state = {key: fh.get_tensor(key) for key in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        msg = f"Checkpoint {path} is corrupted: its tensors cannot be read ({err}). Re-train it."
        raise CheckpointError(msg) from err
    if meta.tensors_sha256 and _tensor_digest(state) != meta.tensors_sha256:
        msg = f"Checkpoint {path} is corrupted: the weights do not match their recorded checksum."
        raise CheckpointError(msg)
    model = PlantPulseModel(meta.config)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # tensor shapes differ from what the config builds
        msg = f"Checkpoint {path} does not fit the architecture of its own config: {err}"
        raise CheckpointError(msg) from err
    if result.missing_keys or result.unexpected_keys:
        msg = (f"Checkpoint {path} does not fit the architecture of its own config: missing "
               f"{result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]}. It was written "
               f"by another PlantPulse version; retrain it.")
        raise CheckpointError(msg)
    return model.to(device).eval(), meta


STATE_FORMAT = "plantpulse-training-state/1"


def _encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """``value`` as JSON, its tensors moved into ``tensors`` (dict keys keep their type: optimiser
    state is keyed by parameter number)."""
    if isinstance(value, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = value.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(value, dict):
        return {"__map__": [[k, _encode(v, tensors)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"training state holds a {type(value).__name__}; only tensors and plain values are saved")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    return {k: _decode(v, tensors) for k, v in value["__map__"]}


def save_training_state(path: Path | str, state: dict[str, Any]) -> Path:
    """Optimiser state, counters and best weights for resuming (tensors and plain values only),
    as safetensors + JSON; written to a temporary file first, so a kill never leaves half a file."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    header = json.dumps(_encode(state, tensors))
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": STATE_FORMAT, "state": header})
    tmp.replace(path)
    return path


def load_training_state(path: Path | str) -> dict[str, Any]:
    """The state :func:`save_training_state` wrote (nothing is unpickled or executed)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        if meta.get("format") != STATE_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {STATE_FORMAT!r}")
        state = _decode(json.loads(meta["state"]), tensors)
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as err:
        msg = f"Training state {path} cannot be read safely ({type(err).__name__}: {err}). Delete it to start over."
        raise CheckpointError(msg) from err
    if not isinstance(state, dict):
        raise CheckpointError(f"Training state {path} holds no mapping. Delete it to start over.")
    return state
