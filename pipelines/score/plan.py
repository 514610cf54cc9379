"""Which model scores which asset: the production model of each asset's type, or the one asked for.

Without ``--model`` every asset type present is given the production model version that serves it
(the types recorded for the version, else those its predictor knows; when two production models
serve a type, the one promoted last). Assets of a type no model serves are not scored, and each is
reported with the reason and the way out. With ``--model NAME`` only that model scores, and only
assets of the types it was trained for: naming an asset of another type is refused, since a model
never scores an asset type it was not trained on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from plantpulse.data.core.errors import ConfigError, PlantPulseError
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import Asset, ModelVersion
from plantpulse.model.predictor import Predictor, predictor_kinds
from plantpulse.pipelines.models.registry import served_types
from plantpulse.pipelines.score.compute import (
    Candidate,
    ModelRef,
    candidates,
    load_model,
    ref_of,
    resolve_model,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Assignment:
    """One model and the assets it scores in this run."""

    ref: ModelRef
    predictor: Predictor
    asset_types: tuple[str, ...]
    todo: tuple[Candidate, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    assignments: tuple[Assignment, ...]
    unserved: tuple[tuple[str, str], ...]  # (asset, reason) of assets no model may score

    @property
    def considered(self) -> int:
        return sum(len(a.todo) for a in self.assignments) + len(self.unserved)


def no_model_reason(asset_type: str, waiting: Sequence[str] = ()) -> str:
    """Why an asset of ``asset_type`` is not scored, and what to run."""
    if waiting:
        return (f"no promoted model for asset type {asset_type!r}: {', '.join(waiting)} serves it as a candidate "
                f"— run plantpulse models promote {waiting[0].rsplit(' v', 1)[0]}")
    return (f"no model trained for asset type {asset_type!r} — run plantpulse fit for it "
            f"(or plantpulse models register FILE, then plantpulse models promote NAME)")


def types_of(ref: ModelRef, version: ModelVersion, predictor: Predictor) -> tuple[str, ...]:
    recorded = served_types(version)
    return recorded if recorded is not None else tuple(predictor.asset_types)


def _assets(session: Session, only: Sequence[str]) -> list[tuple[str, str]]:
    """(name, asset type) of the assets in ``only`` (every asset when empty); unknown names refused."""
    query = select(Asset.name, Asset.asset_type).order_by(Asset.id)
    if only:
        query = query.where(Asset.name.in_(list(only)))
    found = [(n, t) for n, t in session.execute(query)]
    missing = sorted(set(only) - {n for n, _ in found})
    if missing:
        msg = f"Unknown asset(s): {', '.join(missing)}. See the assets on the dashboard's overview."
        raise ConfigError(msg)
    return found


def _one_model(db: Database, name: str, only: Sequence[str], force: bool) -> Plan:
    with db.session() as session:
        ref = resolve_model(session, name)
        version = session.get(ModelVersion, ref.version_id)
        assert version is not None
    predictor = load_model(ref)
    types = types_of(ref, version, predictor)
    with db.session() as session:
        wrong = [(n, t) for n, t in _assets(session, only) if t not in types] if only else []
        if wrong:
            listed = ", ".join(f"{n} ({t})" for n, t in wrong)
            msg = (f"Model {ref.label} was not trained for asset type {wrong[0][1]!r} ({listed}); it serves "
                   f"{', '.join(repr(t) for t in types) or 'no asset type'}. A model never scores an asset type it "
                   f"was not trained on: leave out --model to use the production model of each asset's type "
                   f"(plantpulse models list), or train one for it with plantpulse fit.")
            raise ConfigError(msg)
        todo = candidates(session, ref, types, only, force) if types else []
    return Plan((Assignment(ref, predictor, types, tuple(todo)),), ())


def _by_type(db: Database, only: Sequence[str], force: bool) -> Plan:
    with db.session() as session:
        assets = _assets(session, only)
        present = sorted({t for _, t in assets})
        versions = sorted(session.scalars(select(ModelVersion)), reverse=True,  # the last promoted first
                          key=lambda v: (v.promoted_at is not None, v.promoted_at or v.created_at, v.id))
        session.expunge_all()
    chosen: dict[str, tuple[ModelRef, Predictor, ModelVersion]] = {}
    waiting: dict[str, list[str]] = {}
    broken: dict[str, str] = {}
    kinds = predictor_kinds()
    for version in versions:
        recorded = served_types(version)
        if version.stage != "production":
            for t in recorded or ():
                waiting.setdefault(t, []).append(f"{version.name} v{version.version}")
            continue
        open_types = [t for t in present if t not in chosen]
        if not open_types or (recorded is not None and not set(recorded) & set(open_types)):
            continue
        ref = ref_of(version)
        if ref.kind not in kinds:
            continue  # not a sensor predictor (the weld detector has its own pipeline)
        try:
            predictor = load_model(ref)
        except PlantPulseError as err:
            log.error("Model %s is in production but cannot be loaded: %s", ref.label, err)
            for t in recorded or ():
                broken.setdefault(t, f"its production model {ref.label} cannot be loaded: {err}")
            continue
        for t in types_of(ref, version, predictor):
            if t in open_types:
                chosen[t] = (ref, predictor, version)
    assignments = []
    by_ref: dict[int, list[str]] = {}
    for t, (ref, _, _) in chosen.items():
        by_ref.setdefault(ref.version_id, []).append(t)
    with db.session() as session:
        for types in by_ref.values():
            ref, predictor, _ = chosen[types[0]]
            todo = candidates(session, ref, types, only, force)
            assignments.append(Assignment(ref, predictor, tuple(types), tuple(todo)))
    unserved = tuple((n, broken.get(t) or no_model_reason(t, waiting.get(t, ()))) for n, t in assets if t not in chosen)
    return Plan(tuple(assignments), unserved)


def plan_scoring(db: Database, model: str | None, only: Sequence[str] = (), force: bool = False) -> Plan:
    """The models and assets of one scoring run; see the module docstring."""
    return _one_model(db, model, only, force) if model else _by_type(db, only, force)
