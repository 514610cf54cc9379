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
from plantpulse.pipelines.score.compute import Candidate, ModelRef, Scores, score_assets
from plantpulse.pipelines.score.plan import plan_scoring
from plantpulse.pipelines.score.texts import LogText

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScoreRequest:
    model: str | None = None  # None: the production model of each asset's type
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


def write(db: Database, parts: Sequence[tuple[ModelRef, Scores]], settings: Settings
          ) -> tuple[int, list[Alert], list[Alert]]:
    """Predictions of every model, then alerts (rules on them, plus the weld p-chart), in one transaction."""
    with db.session() as session:
        written = 0
        findings: list[tuple[Finding, int | None]] = []
        for ref, scores in parts:
            fresh = _not_stored(session, ref, scores.rows)  # a re-scored window must not re-fire its alerts
            written += upsert_predictions(session, fresh)
            findings += _findings(_scored(session, ref, fresh), settings)
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
    plan = plan_scoring(db, request.model, request.assets, request.force)
    parts: list[tuple[ModelRef, Scores]] = []
    skipped: list[tuple[str, str]] = list(plan.unserved)
    for item in plan.assignments:
        scores = compute(db, item.ref, item.predictor, item.todo, request) if item.todo else Scores((), ())
        parts.append((item.ref, scores))
        skipped += scores.skipped
    reasons: dict[str, list[str]] = {}
    for name, reason in skipped:
        reasons.setdefault(reason, []).append(name)
    for reason, names in reasons.items():
        log.warning("Not scored: %s: %s", ", ".join(names), reason)
    written, new, refreshed = write(db, parts, settings)
    orders = export(db, new, settings)
    labels = ", ".join(item.ref.label for item in plan.assignments) or "no model"
    scored = sum(len(s.rows) for _, s in parts)
    log.info("Scored %d of %d assets with %s (%s): %d new predictions, %d new alerts, %d refreshed.",
             scored, plan.considered, labels, request.engine, written, len(new), len(refreshed))
    details: dict[str, Any] = {"assets_scored": scored,
                               "model_versions": {item.ref.label: list(item.asset_types) for item in plan.assignments}}
    if len(plan.assignments) == 1:
        details["model_version_id"] = plan.assignments[0].ref.version_id
    return ScoreResult(labels, request.engine, plan.considered, written, tuple(a.id for a in new),
                       tuple(a.id for a in refreshed), tuple(skipped), orders, details)
