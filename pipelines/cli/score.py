"""``plantpulse score`` and ``plantpulse alerts``: batch scoring, and the alerts it raises."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import select

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import InputDataError
from plantpulse.data.store.db import open_database
from plantpulse.data.store.repository import acknowledge_alert
from plantpulse.data.store.schema import ALERT_STATUSES, Alert, Asset


@click.command("score")
@click.option("--model", default=None,
              help="Score only with this model, and only assets of the types it was trained for (default: "
                   "scoring.model; unset: the production model of each asset's type, see `plantpulse models list`).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default=None, help="Default: scoring.engine.")
@click.option("--address", "ray_address", default=None,
              help="Ray cluster address (ray://head:10001 or auto); default: start a local Ray.")
@click.option("--workers", "ray_workers", type=click.IntRange(min=1), default=None, help="Parallel Ray scorers.")
@click.option("--asset", "assets", multiple=True, help="Score only these assets (repeatable).")
@click.option("--force", is_flag=True, help="Score even assets without new readings.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Windows per predict call.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def score(settings: Settings, model: str | None, engine: str | None, ray_address: str | None,
          ray_workers: int | None, assets: tuple[str, ...], force: bool, batch_size: int | None,
          as_json: bool) -> None:
    """Score the latest window of every asset with new data; raise alerts; write work orders.

    Runs as the job 'score' in job_runs: never at the same time as another scoring run (the
    scheduler's included), and all-or-nothing in the database.
    """
    from plantpulse.pipelines.runtime.leases import run_job
    from plantpulse.pipelines.score.job import request_from, run_scoring

    db = open_database(settings)
    db.require_current()
    request = request_from(settings, model=model, engine=engine, ray_address=ray_address,
                           ray_workers=ray_workers, assets=assets or None, force=force or None,
                           batch_size=batch_size)
    holder = {}

    def work() -> tuple[int, dict]:
        result = run_scoring(settings, db, request)
        holder["result"] = result
        return result.predictions, _summary(result)

    s = settings.scheduler
    outcome = run_job(db, "score", work, s.lease_s, s.heartbeat_s, {"trigger": "cli", "engine": request.engine})
    summary = outcome.details | {"run_id": outcome.run_id}
    if as_json:
        click.echo(json.dumps(summary, indent=1))
    else:
        click.echo(f"run {outcome.run_id}: scored {summary['scored']} of {summary['considered']} assets with "
                   f"{summary['model']} ({summary['engine']}); {summary['predictions']} new predictions, "
                   f"{len(summary['new_alerts'])} new alerts, {len(summary['refreshed_alerts'])} refreshed.")
        for name, reason in holder["result"].skipped:
            click.echo(f"  not scored: {name}: {reason}")


def _summary(result) -> dict:
    return {"model": result.model, "engine": result.engine, "considered": result.considered,
            "scored": result.details.get("assets_scored", 0), "predictions": result.predictions,
            "new_alerts": list(result.new_alerts), "refreshed_alerts": list(result.refreshed_alerts),
            "skipped": [list(s) for s in result.skipped], "workorders": result.workorders}


@click.group("alerts")
def alerts() -> None:
    """List, acknowledge and export alerts."""


@alerts.command("list")
@click.option("--status", type=click.Choice(ALERT_STATUSES), default=None, help="Default: open and acknowledged.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.pass_obj
def list_alerts(settings: Settings, status: str | None, limit: int) -> None:
    """Newest alerts first."""
    db = open_database(settings)
    with db.session() as session:
        query = select(Alert, Asset.name).outerjoin(Asset, Asset.id == Alert.asset_id)
        query = query.where(Alert.status == status) if status else query.where(Alert.status != "closed")
        for alert, asset in session.execute(query.order_by(Alert.updated_at.desc()).limit(limit)):
            click.echo(f"#{alert.id} {alert.status:<12} {alert.severity:<8} {alert.rule:<16} {asset or '-':<28} "
                       f"x{alert.occurrences} {alert.updated_at:%Y-%m-%d %H:%M} {alert.message}")


@alerts.command("ack")
@click.argument("alert_ids", nargs=-1, type=int, required=True)
@click.option("--user", required=True, help="Who acknowledges (kept with the alert).")
@click.pass_obj
def ack(settings: Settings, alert_ids: tuple[int, ...], user: str) -> None:
    """Acknowledge alerts: they stay open for de-duplication but are marked as seen."""
    db = open_database(settings)
    with db.session() as session:
        for alert_id in alert_ids:
            alert = acknowledge_alert(session, alert_id, user)
            click.echo(f"#{alert.id}: {alert.status} by {alert.acknowledged_by}")


@alerts.command("export")
@click.option("--since", type=click.DateTime(), default=None, help="Alerts created at or after (UTC).")
@click.option("--status", type=click.Choice(ALERT_STATUSES), default="open", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV file (default: today's work-order file).")
@click.option("--webhook/--no-webhook", default=False, show_default=True, help="Also POST them to alerts.webhook_url.")
@click.pass_obj
def export_alerts(settings: Settings, since: datetime | None, status: str, out: Path | None, webhook: bool) -> None:
    """Write (and optionally send) work orders for existing alerts."""
    from plantpulse.data.core.times import utcnow
    from plantpulse.pipelines.alerts.delivery import deliver
    from plantpulse.pipelines.alerts.workorders import from_alert, write_csv

    if webhook and not settings.alerts.webhook_url:
        raise InputDataError("--webhook needs alerts.webhook_url (PLANTPULSE_ALERTS__WEBHOOK_URL).")
    db = open_database(settings)
    with db.session() as session:
        query = select(Alert, Asset.name).outerjoin(Asset, Asset.id == Alert.asset_id).where(Alert.status == status)
        if since is not None:
            query = query.where(Alert.created_at >= since.replace(tzinfo=since.tzinfo or utcnow().tzinfo))
        orders = [from_alert(alert, name or "") for alert, name in session.execute(query.order_by(Alert.id))]
    folder = settings.alerts.workorder_dir or settings.home / "workorders"
    path = write_csv(orders, out or folder / f"workorders-{utcnow():%Y-%m-%d}.csv")
    sent = deliver(db, orders, settings.alerts).delivered if webhook else 0  # state kept on each alert
    click.echo(f"{len(orders)} work orders written to {path}" + (f", {sent} sent to the webhook" if webhook else ""))
