"""Work orders for new alerts: a CSV a CMMS can import, and an optional webhook (JSON POST).

Columns: alert id, created (UTC), asset, severity, rule, finding, evidence (JSON), recommended
action. The webhook URL and its bearer token come from settings (the token from the environment
only: ``PLANTPULSE_ALERTS__WEBHOOK_TOKEN``). A failed webhook never loses a work order: the CSV is
written first and ``plantpulse alerts export`` can send it again.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from plantpulse.data.core.config.jobs import AlertSettings
from plantpulse.data.store.schema import Alert

log = logging.getLogger(__name__)

COLUMNS = ("alert_id", "created_at", "asset", "severity", "rule", "finding", "evidence", "recommended_action")


@dataclass(frozen=True, slots=True)
class WorkOrder:
    alert_id: int
    created_at: str
    asset: str
    severity: str
    rule: str
    finding: str
    evidence: str
    recommended_action: str


def from_alert(alert: Alert, asset: str) -> WorkOrder:
    return WorkOrder(alert.id, alert.created_at.isoformat(), asset, alert.severity, alert.rule, alert.message,
                     json.dumps(alert.evidence, sort_keys=True, default=str), alert.recommended_action)


def write_csv(orders: Sequence[WorkOrder], path: Path) -> Path:
    """Append ``orders`` to ``path`` (the header is written once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        if fresh:
            writer.writeheader()
        for order in orders:
            writer.writerow(asdict(order))
    return path


def post_webhook(orders: Sequence[WorkOrder], cfg: AlertSettings) -> int:
    """POST each order as JSON; returns how many the receiver accepted (2xx)."""
    if not cfg.webhook_url or not orders:
        return 0
    headers = {"Content-Type": "application/json"}
    if cfg.webhook_token is not None:
        headers["Authorization"] = f"Bearer {cfg.webhook_token.get_secret_value()}"
    sent = 0
    for order in orders:
        body = asdict(order) | {"evidence": json.loads(order.evidence)}
        try:
            response = requests.post(cfg.webhook_url, json=body, headers=headers, timeout=cfg.webhook_timeout_s)
        except requests.RequestException as err:
            log.error("Work order %d not delivered to the webhook: %s", order.alert_id, err)
            continue
        if 200 <= response.status_code < 300:
            sent += 1
        else:
            log.error("Work order %d refused by the webhook: HTTP %d %s", order.alert_id, response.status_code,
                      response.text[:200])
    return sent
