"""The model registry: what each model version serves, and the commands that change its stage.

One home for ``plantpulse models`` and the dashboard's Models page: both register, promote and
roll back through these functions, each change in one transaction. A version records the asset
types (and per type the channels) it serves in its config under ``serves``; scoring uses it to
pick the production model of each asset's type. Versions registered before that record exist
are described by their loaded predictor instead (:func:`served_types` returns None for them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plantpulse.data.core.errors import ConfigError, InputDataError
from plantpulse.data.core.hashing import sha256_file
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import promote_model_version, register_model_version
from plantpulse.data.store.schema import ModelVersion
from plantpulse.model.predictor import Predictor

SERVES = "serves"  # key in ModelVersion.config: {"asset_types": [...], "channels": {type: [...]}}
MOE_KINDS = ("student", "teacher", "adapted")  # ModelVersion.kind of ``plantpulse train`` checkpoints


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One model version as ``plantpulse models list|show`` prints it."""

    id: int
    name: str
    version: int
    kind: str
    task: str
    stage: str
    asset_types: tuple[str, ...] | None  # None: not recorded (registered before the record existed)
    channels: dict[str, list[str]]
    metrics: dict[str, Any]
    path: str
    sha256: str
    created_at: datetime
    promoted_at: datetime | None

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


@dataclass(frozen=True, slots=True)
class Change:
    """One version whose stage a promote or rollback changed."""

    label: str
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.label}: {self.before} -> {self.after}"


def predictor_kind(kind: str) -> str:
    """The predictor kind (model/predictor.py) that loads a version of ``kind``."""
    return "moe" if kind in MOE_KINDS else kind


def served_types(version: ModelVersion) -> tuple[str, ...] | None:
    """The asset types recorded for ``version``, or None when none were recorded."""
    serves = (version.config or {}).get(SERVES)
    if not isinstance(serves, dict) or not isinstance(serves.get("asset_types"), list):
        return None
    return tuple(str(t) for t in serves["asset_types"])


def serves_record(predictor: Predictor) -> dict[str, Any]:
    """What ``predictor`` serves, to store in a version's config."""
    channels = {t: list(predictor.for_asset_type(t).channels) for t in predictor.asset_types}
    return {"asset_types": list(predictor.asset_types), "channels": channels}


def info(version: ModelVersion) -> VersionInfo:
    serves = (version.config or {}).get(SERVES) or {}
    channels = serves.get("channels") if isinstance(serves, dict) else None
    return VersionInfo(version.id, version.name, version.version, version.kind, version.task, version.stage,
                       served_types(version), dict(channels or {}), dict(version.metrics or {}), version.path,
                       version.sha256, version.created_at, version.promoted_at)


def list_versions(session: Session, name: str | None = None) -> list[VersionInfo]:
    """Every version (of ``name``), by name then version."""
    query = select(ModelVersion).order_by(ModelVersion.name, ModelVersion.version)
    if name is not None:
        query = query.where(ModelVersion.name == name)
    return [info(v) for v in session.scalars(query)]


def find_version(session: Session, name: str, version: int | None = None) -> ModelVersion:
    """Version ``version`` of ``name`` (None: its newest), or an error naming what exists."""
    query = select(ModelVersion).where(ModelVersion.name == name)
    rows = list(session.scalars(query.order_by(ModelVersion.version)))
    if not rows:
        known = sorted(set(session.scalars(select(ModelVersion.name))))
        msg = (f"No model named {name!r} is registered. Registered: {', '.join(known) or 'none'} "
               "(see `plantpulse models list`).")
        raise ConfigError(msg)
    if version is None:
        return rows[-1]
    for row in rows:
        if row.version == version:
            return row
    msg = f"Model {name!r} has no version {version}. Versions: {', '.join(f'v{r.version}' for r in rows)}."
    raise ConfigError(msg)


def _promote(session: Session, chosen: ModelVersion) -> list[Change]:
    before = {v.id: v.stage for v in session.scalars(select(ModelVersion).where(ModelVersion.name == chosen.name))}
    promote_model_version(session, chosen.id)
    changes = []
    for v in session.scalars(select(ModelVersion).where(ModelVersion.name == chosen.name)
                             .order_by(ModelVersion.version)):
        if before.get(v.id) != v.stage:
            changes.append(Change(f"{v.name} v{v.version}", before.get(v.id, "-"), v.stage))
    return changes


def promote(db: Database, name: str, version: int | None = None) -> list[Change]:
    """Make version ``version`` of ``name`` (None: its newest) production, in one transaction."""
    with db.session() as session:
        chosen = find_version(session, name, version)
        if chosen.stage == "production":
            msg = f"{chosen.name} v{chosen.version} is already the production version; nothing changed."
            raise InputDataError(msg)
        return _promote(session, chosen)


def promote_id(db: Database, version_id: int) -> list[Change]:
    """:func:`promote` by row id (the dashboard's buttons)."""
    with db.session() as session:
        chosen = session.get(ModelVersion, version_id)
        if chosen is None:
            raise InputDataError(f"No model version with id {version_id}; reload the page.")
        return _promote(session, chosen)


def rollback_target(versions: list[ModelVersion]) -> ModelVersion | None:
    """The version to go back to: the most recently promoted archived one, else the newest older one."""
    archived = [v for v in versions if v.stage == "archived" and v.promoted_at is not None]
    if archived:
        return max(archived, key=lambda v: v.promoted_at or datetime.min)
    current = [v for v in versions if v.stage == "production"]
    if current:
        older = [v for v in versions if v.version < current[0].version]
        return max(older, key=lambda v: v.version) if older else None
    return None


def rollback(db: Database, name: str) -> list[Change]:
    """Put back the version of ``name`` that was in production before the current one."""
    with db.session() as session:
        find_version(session, name)
        versions = list(session.scalars(select(ModelVersion).where(ModelVersion.name == name)))
        if not any(v.stage == "production" for v in versions):
            msg = (f"Model {name!r} has no production version to roll back; "
                   "promote one with `plantpulse models promote`.")
            raise InputDataError(msg)
        target = rollback_target(versions)
        if target is None:
            msg = f"Model {name!r} has no earlier version to roll back to."
            raise InputDataError(msg)
        return _promote(session, target)


def register_file(db: Database, path: Path, *, name: str | None = None, kind: str | None = None,
                  task: str = "") -> VersionInfo:
    """Register a ``.safetensors`` model file as the next candidate version of ``name``.

    Only safetensors is accepted: it holds tensors and JSON metadata and never runs code (a pickle
    would). The file is validated by loading it through the predictor registry under its kind (from
    its metadata, else ``kind``); the asset types and channels it serves are recorded.
    """
    from plantpulse.model.predictor import (
        file_metadata,
        kind_from_metadata,
        load_predictor,
        metrics_from_metadata,
        predictor_kinds,
    )

    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        msg = (f"Refused {path}: only .safetensors model files can be registered (they hold tensors and "
               f"metadata and never run code; pickled files such as .pt, .pth, .pkl or .ckpt can). "
               f"Save the model with safetensors and register that file.")
        raise InputDataError(msg)
    if not path.is_file():
        raise InputDataError(f"Model file {path} does not exist.")
    found = kind_from_metadata(path)
    kinds = predictor_kinds()
    stored_kind = kind or found
    if stored_kind is None:
        msg = f"{path}: its metadata names no predictor kind; pass --kind (one of {', '.join(kinds)})."
        raise InputDataError(msg)
    if predictor_kind(stored_kind) not in kinds:
        msg = f"{path}: unknown predictor kind {stored_kind!r}. Available: {', '.join(kinds)}."
        raise InputDataError(msg)
    try:
        predictor = load_predictor(predictor_kind(stored_kind), path)
    except (ValueError, KeyError, OSError, RuntimeError) as err:
        msg = f"{path} does not load as a {stored_kind!r} model ({err}); check --kind or the file."
        raise InputDataError(msg) from err
    if not predictor.asset_types:
        raise InputDataError(f"{path}: the model names no asset type it was trained for; it cannot be scored.")
    serves = serves_record(predictor)
    own_name = file_metadata(path).get("name", "").strip()
    with db.session() as session:
        row = register_model_version(session, name=name or own_name or path.stem, kind=stored_kind,
                                     task=task, path=str(path.resolve()), config={SERVES: serves},
                                     metrics=metrics_from_metadata(path),
                                     sha256=sha256_file(path))
        return info(row)
