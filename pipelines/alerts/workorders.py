"""Work orders for new alerts: a CSV a CMMS can import, and an optional webhook (JSON POST).

Columns: alert id, created (UTC), asset, severity, rule, finding, evidence (JSON), recommended
action. The webhook URL and its bearer token come from settings (the token from the environment
or the secrets folder only, ``PLANTPULSE_ALERTS__WEBHOOK_TOKEN``; the settings file may not hold
it). A failed webhook never loses a work order: the CSV is
written first; a POST that fails (no answer, 5xx, 429) is retried with exponential back-off
(``alerts.webhook_retries``, ``alerts.webhook_backoff_s``), and one still undelivered stays
pending in the database for the next scoring run (:mod:`plantpulse.pipelines.alerts.delivery`).
Each POST carries ``Idempotency-Key: plantpulse-alert-<id>`` so a receiver can drop a repeat.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session
from urllib3.util.retry import Retry

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


def open_orders_csv(session: Session, asset_id: int, asset_name: str) -> tuple[str, int]:
    """An asset's open alerts as work orders: the CSV text (the columns ``write_csv`` writes) and how many."""
    alerts = session.scalars(select(Alert).where(Alert.asset_id == asset_id, Alert.status == "open")
                             .order_by(Alert.id)).all()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(asdict(from_alert(alert, asset_name)) for alert in alerts)
    return out.getvalue(), len(alerts)


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


# Answers worth another try: the receiver is busy, restarting or rate-limiting us.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one work order's POST."""

    alert_id: int
    status: str  # delivered | pending (try again later) | refused (the receiver said no) | untried
    error: str | None = None


def _session(cfg: AlertSettings) -> requests.Session:
    retry = Retry(total=cfg.webhook_retries, status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"POST"}),
                  backoff_factor=cfg.webhook_backoff_s, backoff_max=60, raise_on_status=False,
                  respect_retry_after_header=True)
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _post(session: requests.Session, order: WorkOrder, cfg: AlertSettings, headers: dict[str, str]) -> Delivery:
    body = asdict(order) | {"evidence": json.loads(order.evidence)}
    try:
        response = session.post(cfg.webhook_url, json=body, timeout=cfg.webhook_timeout_s,
                                headers=headers | {"Idempotency-Key": f"plantpulse-alert-{order.alert_id}"})
    except requests.RequestException as err:
        return Delivery(order.alert_id, "pending", f"no answer after {cfg.webhook_retries + 1} tries: {err}"[:1000])
    if 200 <= response.status_code < 300:
        return Delivery(order.alert_id, "delivered")
    error = f"HTTP {response.status_code} {response.reason or ''}: {response.text[:200]}".strip()
    return Delivery(order.alert_id, "pending" if response.status_code in RETRY_STATUSES else "refused", error)


def send(orders: Sequence[WorkOrder], cfg: AlertSettings) -> list[Delivery]:
    """POST each order as JSON (retried with back-off); one :class:`Delivery` per order.

    Once an order stays undelivered after its retries (the receiver is down or overloaded), the
    rest are not tried in this run: they are 'untried' and keep their place for the next one.
    """
    if not cfg.webhook_url:
        return [Delivery(o.alert_id, "untried", "alerts.webhook_url is not set") for o in orders]
    headers = {"Content-Type": "application/json"}
    if cfg.webhook_token is not None:
        headers["Authorization"] = f"Bearer {cfg.webhook_token.get_secret_value()}"
    out: list[Delivery] = []
    with _session(cfg) as session:
        for order in orders:
            if out and out[-1].status in ("pending", "untried"):
                out.append(Delivery(order.alert_id, "untried", "not tried: the webhook failed for an earlier one"))
                continue
            out.append(_post(session, order, cfg, headers))
            if out[-1].status != "delivered":
                log.error("Work order %d not delivered to the webhook: %s", order.alert_id, out[-1].error)
    return out

