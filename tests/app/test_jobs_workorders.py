"""The Jobs page shows which work orders have not reached the webhook, and why."""

from __future__ import annotations

from pages import run_page, texts
from sqlalchemy import select

from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import Alert


def _set_delivery(url: str) -> int:
    db = Database(url)
    with db.session() as session:
        waiting, delivered = session.scalars(select(Alert).order_by(Alert.id).limit(2)).all()
        waiting.delivery_status, waiting.delivery_attempts = "pending", 2
        waiting.delivery_error = "HTTP 503 Service Unavailable: receiver busy"
        delivered.delivery_status, delivered.delivery_attempts = "delivered", 1
        alert_id = waiting.id
    db.dispose()
    return alert_id


def test_jobs_page_lists_undelivered_work_orders(plant) -> None:
    alert_id = _set_delivery(plant.url)
    at = run_page("jobs", role="viewer")
    assert not at.exception
    shown = texts(at)
    assert "1 work orders are not delivered" in shown and "work orders waiting 1" in shown
    assert "work orders delivered 1" in shown
    [table] = [d.value for d in at.dataframe if "last error" in d.value.columns]
    [row] = table.to_dict("records")
    assert (row["alert"], row["state"], row["attempts"]) == (alert_id, "waiting", 2)
    assert row["last error"] == "HTTP 503 Service Unavailable: receiver busy"


def test_jobs_page_without_webhook_deliveries(empty_plant) -> None:
    at = run_page("jobs")
    assert not at.exception
    assert "No work order has gone to a webhook yet" in texts(at)
