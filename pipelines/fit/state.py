"""What a fit has finished, kept in its out folder so ``plantpulse fit --resume`` can continue.

``fit-state.json`` records the spec, the data fingerprint, the file-name stamp and, per finished
learner, its model file (with sha256), wall time and description; its held-out outputs sit beside
it in ``fit-<kind>.outputs.safetensors``. The MoE's last completed epoch is
``fit-moe.epoch.safetensors`` (weights, optimiser and early-stopping state; see
:func:`plantpulse.pipelines.fit.learners.fit_moe`). Nothing here is unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from plantpulse.data.core.errors import ConfigError
from plantpulse.data.core.hashing import sha256_file
from plantpulse.pipelines.fit.learners import Trained
from plantpulse.pipelines.fit.spec import FitSpec

STATE_FILE = "fit-state.json"
STATE_FORMAT = "plantpulse-fit-state/1"


@dataclass
class FitState:
    """The out folder's record of one fit (see the module docstring)."""

    folder: Path
    spec: dict[str, Any]
    fingerprint: str
    stamp: str
    learners: dict[str, dict[str, Any]] = field(default_factory=dict)
    registered: dict[str, str] = field(default_factory=dict)

    @property
    def moe_epochs(self) -> Path:
        return self.folder / "fit-moe.epoch.safetensors"

    def _outputs(self, kind: str) -> Path:
        return self.folder / f"fit-{kind}.outputs.safetensors"

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        payload = {"format": STATE_FORMAT, "spec": self.spec, "fingerprint": self.fingerprint, "stamp": self.stamp,
                   "learners": self.learners, "registered": self.registered}
        tmp = self.folder / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        tmp.replace(self.folder / STATE_FILE)

    def record(self, trained: Trained) -> None:
        """Keep a finished learner: its outputs, file, checksum, wall time and description."""
        outputs = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in trained.outputs.items()}
        save_file(outputs, str(self._outputs(trained.kind)))
        self.learners[trained.kind] = {"path": str(trained.path), "sha256": sha256_file(trained.path),
                                       "wall_s": trained.wall_s, "origin": trained.origin}
        self.save()

    def finished(self, kind: str) -> Trained | None:
        """The learner ``kind`` as recorded (None when it has not finished). A model file that is
        gone or changed since is a ``ConfigError``: resuming would register something else."""
        entry = self.learners.get(kind)
        if entry is None:
            return None
        path = Path(entry["path"])
        if not path.is_file() or sha256_file(path) != entry["sha256"]:
            raise ConfigError(f"--resume: the {kind} model {path} recorded in {self.folder / STATE_FILE} is missing "
                              f"or changed. Run plantpulse fit without --resume to start over.")
        try:
            outputs = load_file(str(self._outputs(kind)))
        except (OSError, SafetensorError) as err:
            raise ConfigError(f"--resume: cannot read {self._outputs(kind)} ({err}). Run plantpulse fit without "
                              f"--resume to start over.") from err
        return Trained(kind, dict(outputs), path, float(entry["wall_s"]), str(entry["origin"]))


def open_state(folder: Path, spec: FitSpec, fingerprint: str, stamp: str, resume: bool) -> FitState:
    """A fresh state for a new fit, or with ``resume`` the folder's state checked against ``spec``
    and the data ``fingerprint`` (a ``ConfigError`` says what differs and what to do)."""
    wanted = spec.model_dump(mode="json")
    if not resume:
        state = FitState(folder, wanted, fingerprint, stamp)
        state.moe_epochs.unlink(missing_ok=True)
        state.save()
        return state
    path = folder / STATE_FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"--resume: no readable fit state at {path} ({err}). Give the --out folder of the "
                          f"interrupted fit, or run without --resume.") from err
    if saved.get("format") != STATE_FORMAT:
        raise ConfigError(f"--resume: {path} is not a fit state ({saved.get('format')!r}). Run without --resume.")
    changed = sorted(k for k in set(wanted) | set(saved["spec"]) if wanted.get(k) != saved["spec"].get(k))
    if changed:
        raise ConfigError(f"--resume: the spec differs from the interrupted fit's in {changed} (see {path}). "
                          f"Resume with the same spec, or run without --resume to start over.")
    if saved["fingerprint"] != fingerprint:
        raise ConfigError(f"--resume: the data of asset type {spec.asset_type!r} changed since the interrupted fit "
                          f"(windows or labels differ from {path}). Run without --resume to start over on the new data.")
    if saved["registered"]:
        raise ConfigError(f"--resume: the fit in {folder} finished and registered {sorted(saved['registered'].values())}"
                          f"; there is nothing to resume. Run without --resume to fit again.")
    return FitState(folder, saved["spec"], saved["fingerprint"], saved["stamp"], saved["learners"])
