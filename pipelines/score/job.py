"""``plantpulse score`` as a job: choose the model, score (locally or on Ray), then write
predictions and alerts in one transaction, then export work orders for the new alerts and send
every work order still waiting for the webhook (this run's and earlier runs' undelivered ones).

Killed at any point, a run leaves either nothing or everything in the database: predictions and
alerts share one transaction, and the next run scores whatever is still unscored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.records import PredictionRow
from plantpulse.data.core.times import utcnow
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import raise_alert, upsert_predictions
from plantpulse.data.store.schema import Alert, Asset, Prediction
from plantpulse.model.predictor import Predictor
from plantpulse.pipelines.alerts.delivery import deliver_pending, mark_pending
from plantpulse.pipelines.alerts.pchart import weld_findings
from plantpulse.pipelines.alerts.rules import Finding, Scored, evaluate
from plantpulse.pipelines.alerts.workorders import WorkOrder, from_alert, write_csv
from plantpulse.pipelines.score.compute import (
    Candidate,
    ModelRef,
    Scores,
    candidates,
    load_model,
    resolve_model,
    score_assets,
)
from plantpulse.pipelines.score.texts import LogText

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScoreRequest:
    model: str
    engine: str = "local"
    assets: tuple[str, ...] = ()
    force: bool = False
    batch_size: int = 256
    ray_address: str | None = None
    ray_workers: int = 2
    log_events: int = 20
    log_lookback_days: float = 7.0

    @property
    def logs(self) -> LogText:
        return LogText(self.log_events, self.log_lookback_days)


@dataclass(frozen=True, slots=True)
class ScoreResult:
    model: str
    engine: str
    considered: int
    predictions: int
    new_alerts: tuple[int, ...]
    refreshed_alerts: tuple[int, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    workorders: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def request_from(settings: Settings, **overrides: Any) -> ScoreRequest:
    s = settings.scoring
    base = {"model": s.model, "engine": s.engine, "batch_size": s.batch_size, "ray_address": s.ray_address,
            "ray_workers": s.ray_workers, "log_events": s.log_events, "log_lookback_days": s.log_lookback_days}
    return ScoreRequest(**(base | {k: v for k, v in overrides.items() if v is not None}))


def compute(db: Database, ref: ModelRef, predictor: Predictor, todo: Sequence[Candidate],
            request: ScoreRequest) -> Scores:
    """Predictions for ``todo``: in this process, or in parallel partitions on Ray."""
    if request.engine == "ray":
        from plantpulse.pipelines.runtime.ray_engine import score_on_ray

        return score_on_ray(db.url, ref, todo, request.batch_size, request.ray_workers, request.ray_address,
                            request.logs)
    return score_assets(db, predictor, ref, todo, request.batch_size, request.logs)


def _stored_ids(session: Session, ref: ModelRef, rows: Sequence[PredictionRow]) -> dict[tuple[int, Any], int]:
    """(asset id, window end) -> prediction id, for those of ``rows`` already stored."""
    keys = [(r.asset_id, r.window_end) for r in rows]
    ids: dict[tuple[int, Any], int] = {}
    for i in range(0, len(keys), 500):
        found = session.execute(
            select(Prediction.asset_id, Prediction.window_end, Prediction.id)
            .where(Prediction.model_version_id == ref.version_id,
                   tuple_(Prediction.asset_id, Prediction.window_end).in_(keys[i : i + 500])))
        ids |= {(a, w): pid for a, w, pid in found}
    return ids


def _not_stored(session: Session, ref: ModelRef, rows: Sequence[PredictionRow]) -> list[PredictionRow]:
    stored = _stored_ids(session, ref, rows)
    return [r for r in rows if (r.asset_id, r.window_end) not in stored]


def _scored(session: Session, ref: ModelRef, rows: Sequence[PredictionRow]) -> list[tuple[Scored, int | None]]:
    """Each row with its asset's name and type, and its stored prediction id."""
    assets = {a.id: a for a in session.scalars(select(Asset).where(Asset.id.in_({r.asset_id for r in rows})))}
    ids = _stored_ids(session, ref, rows)
    return [(Scored(r, assets[r.asset_id].name, assets[r.asset_id].asset_type, ref.label, ref.kind),
             ids.get((r.asset_id, r.window_end))) for r in rows]


def write(db: Database, ref: ModelRef, scores: Scores, settings: Settings) -> tuple[int, list[Alert], list[Alert]]:
    """Predictions, then alerts (rules on them, plus the weld p-chart), in one transaction."""
    with db.session() as session:
        fresh = _not_stored(session, ref, scores.rows)  # a re-scored window must not re-fire its alerts
        written = upsert_predictions(session, fresh)
        scored = _scored(session, ref, fresh)
        findings: list[tuple[Finding, int | None]] = [(f, pid) for f, pid in _findings(scored, settings)]
        weld, _ = weld_findings(session, settings.alerts, settings.timezone)
        findings += [(f, None) for f in weld]
        new: list[Alert] = []
        refreshed: list[Alert] = []
        for finding, prediction_id in findings:
            alert = raise_alert(session, rule=finding.rule, severity=finding.severity, message=finding.message,
                                dedupe_key=finding.dedupe_key, asset_id=finding.asset_id, evidence=finding.evidence,
                                recommended_action=finding.recommended_action, prediction_id=prediction_id)
            (new if alert.occurrences == 1 else refreshed).append(alert)
        mark_pending(new, settings.alerts)  # with the alerts: a kill before the POST loses nothing
    return written, new, refreshed


def _findings(scored: list[tuple[Scored, int | None]], settings: Settings) -> list[tuple[Finding, int | None]]:
    by_asset = {s.row.asset_id: pid for s, pid in scored}
    return [(f, by_asset.get(f.asset_id)) for f in evaluate([s for s, _ in scored], settings.alerts)]


def export(db: Database, alerts: Sequence[Alert], settings: Settings) -> int:
    """Work orders for ``alerts`` appended to today's CSV; then every pending one goes to the webhook."""
    if alerts:
        with db.session() as session:
            names = {i: n for i, n in session.execute(select(Asset.id, Asset.name))}
        orders: list[WorkOrder] = [from_alert(a, names.get(a.asset_id, "")) for a in alerts]
        folder = settings.alerts.workorder_dir or settings.home / "workorders"
        path = write_csv(orders, folder / f"workorders-{utcnow():%Y-%m-%d}.csv")
        log.info("%d work orders written to %s.", len(orders), path)
    report = deliver_pending(db, settings.alerts)
    if report.delivered:
        log.info("%d work orders delivered to the webhook.", report.delivered)
    return len(alerts)


def run_scoring(settings: Settings, db: Database, request: ScoreRequest) -> ScoreResult:
    """Score the assets with new data and raise alerts; see the module docstring."""
    with db.session() as session:
        ref = resolve_model(session, request.model)
    predictor = load_model(ref)
    with db.session() as session:
        todo = candidates(session, ref, predictor.asset_types, request.assets, request.force)
    scores = compute(db, ref, predictor, todo, request) if todo else Scores((), ())
    for name, reason in scores.skipped:
        log.warning("Not scored: %s: %s", name, reason)
    written, new, refreshed = write(db, ref, scores, settings)
    orders = export(db, new, settings)
    log.info("Scored %d of %d assets with %s (%s): %d new predictions, %d new alerts, %d refreshed.",
             len(scores.rows), len(todo), ref.label, request.engine, written, len(new), len(refreshed))
    return ScoreResult(ref.label, request.engine, len(todo), written, tuple(a.id for a in new),
                       tuple(a.id for a in refreshed), scores.skipped, orders,
                       {"model_version_id": ref.version_id, "assets_scored": len(scores.rows)})
