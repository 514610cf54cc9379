"""Work orders that must reach the webhook survive failures: their state lives on the alert row.

When the webhook is configured, an alert opens with ``delivery_status = 'pending'`` in the same
transaction that creates it, so not even a kill between the commit and the POST loses it. Every
scoring run then sends all pending work orders (:func:`deliver_pending`) and records the outcome:
``delivered``; still ``pending`` with the attempt count and last error (no answer, 5xx, 429:
the next run tries again); or ``refused`` (the receiver answered 4xx: a person fixes the cause
and re-sends with ``plantpulse alerts export --webhook``). The Jobs page lists what is waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from plantpulse.data.core.config.jobs import AlertSettings
from plantpulse.data.core.times import utcnow
from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import Alert, Asset
from plantpulse.pipelines.alerts.workorders import Delivery, WorkOrder, from_alert, send

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    delivered: int = 0
    pending: int = 0
    refused: int = 0


def mark_pending(alerts: Sequence[Alert], cfg: AlertSettings) -> None:
    """Queue new alerts' work orders for the webhook (call inside the transaction creating them)."""
    if cfg.webhook_url:
        for alert in alerts:
            alert.delivery_status = "pending"


def pending_orders(db: Database, limit: int = 500) -> list[WorkOrder]:
    """Work orders waiting for the webhook, oldest first."""
    with db.session() as session:
        rows = session.execute(select(Alert, Asset.name).outerjoin(Asset, Asset.id == Alert.asset_id)
                               .where(Alert.delivery_status == "pending").order_by(Alert.id).limit(limit))
        return [from_alert(alert, name or "") for alert, name in rows]


def record(db: Database, deliveries: Sequence[Delivery]) -> DeliveryReport:
    """Store each delivery's outcome on its alert; 'untried' ones keep their state."""
    tried = {d.alert_id: d for d in deliveries if d.status != "untried"}
    with db.session() as session:
        for alert in session.scalars(select(Alert).where(Alert.id.in_(tried))):
            outcome = tried[alert.id]
            alert.delivery_status, alert.delivery_error = outcome.status, outcome.error
            alert.delivery_attempts += 1
            if outcome.status == "delivered":
                alert.delivered_at = utcnow()
    statuses = [d.status for d in deliveries]
    return DeliveryReport(statuses.count("delivered"), statuses.count("pending") + statuses.count("untried"),
                          statuses.count("refused"))


def deliver(db: Database, orders: Sequence[WorkOrder], cfg: AlertSettings) -> DeliveryReport:
    """POST ``orders`` (with retries) and record what became of each on its alert."""
    return record(db, send(orders, cfg)) if orders else DeliveryReport()


def deliver_pending(db: Database, cfg: AlertSettings) -> DeliveryReport:
    """Send every pending work order; see the module docstring."""
    orders = pending_orders(db)
    if orders and not cfg.webhook_url:
        log.warning("%d work orders wait for the webhook, but alerts.webhook_url is not set; set it "
                    "(PLANTPULSE_ALERTS__WEBHOOK_URL) to deliver them.", len(orders))
        return DeliveryReport(pending=len(orders))
    report = deliver(db, orders, cfg)
    if report.pending or report.refused:
        log.warning("Work orders: %d delivered, %d still pending (retried by the next scoring run), "
                    "%d refused by the receiver (see the Jobs page).", report.delivered, report.pending,
                    report.refused)
    return report
