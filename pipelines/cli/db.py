"""``plantpulse db upgrade|current|batches|quarantine``: schema and ingest bookkeeping;
``plantpulse db batches delete N`` removes a batch and what it stored."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import PlantPulseError
from plantpulse.data.store.db import normalize_url, open_database
from plantpulse.data.store.schema import IngestBatch, QuarantinedRow
from plantpulse.pipelines.ingest.entry import delete_batch

QUARANTINE_COLUMNS = ("id", "batch_id", "source", "line", "column", "reason", "raw", "created_at")


def _where(settings: Settings) -> str:
    return make_url(normalize_url(settings.db_url)).render_as_string(hide_password=True)


@click.group()
def db() -> None:
    """Create or upgrade the schema; inspect ingest batches and quarantined rows."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target schema revision.")
@click.pass_obj
def upgrade(settings: Settings, revision: str) -> None:
    """Create the schema, or bring it up to the newest revision."""
    database = open_database(settings)
    database.upgrade(revision)
    click.echo(f"{_where(settings)}: schema at revision {database.current_revision()}")


@db.command()
@click.pass_obj
def current(settings: Settings) -> None:
    """Show the schema revision of the database and the one this PlantPulse needs."""
    database = open_database(settings)
    now, head = database.current_revision(), database.head_revision()
    state = "up to date" if now == head else "out of date: run `plantpulse db upgrade`"
    click.echo(f"{_where(settings)}: revision {now or 'none'} (this PlantPulse needs {head}); {state}")


@db.group(invoke_without_command=True)
@click.option("--limit", default=20, show_default=True, help="How many of the newest batches to list.")
@click.pass_context
def batches(ctx: click.Context, limit: int) -> None:
    """List the newest ingest batches with their counts; `batches delete N` removes one."""
    if ctx.invoked_subcommand is not None:
        return
    settings: Settings = ctx.obj
    database = open_database(settings)
    database.require_current()
    with database.session() as session:
        rows = session.scalars(select(IngestBatch).order_by(IngestBatch.id.desc()).limit(limit)).all()
    click.echo(f"{'id':>6}  {'status':<9} {'connector':<9} {'rows':>10} {'loaded':>10} {'dup':>8} {'quar':>8}  source")
    for b in rows:
        click.echo(f"{b.id:>6}  {b.status:<9} {b.connector:<9} {b.rows_total:>10,} {b.rows_loaded:>10,} "
                   f"{b.rows_duplicate:>8,} {b.rows_quarantined:>8,}  {b.source}"
                   + (f"  [{b.error}]" if b.error else ""))


@batches.command("delete")
@click.argument("batch_id", type=int)
@click.pass_obj
def delete_batch_command(settings: Settings, batch_id: int) -> None:
    """Remove batch BATCH_ID in one transaction: its readings, events, images and quarantined rows.

    Refused, with the reason, when other data depends on them (inspected or reviewed images; a
    later batch that skipped rows as duplicates of these). Re-ingest the file afterwards, or use
    `plantpulse ingest ... --replace` to do both in one transaction.
    """
    database = open_database(settings)
    database.require_current()
    try:
        removed = delete_batch(database, batch_id)
    except PlantPulseError as err:
        raise click.ClickException(str(err)) from err
    click.echo(removed.describe()[0].upper() + removed.describe()[1:])


@db.command()
@click.option("--batch", "batch_id", type=int, help="Only rows of this batch.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True),
              help="Write all matching rows to this CSV file ('-' for standard output) instead of a listing.")
@click.option("--limit", default=50, show_default=True, help="Rows to list on screen (the CSV gets all).")
@click.pass_obj
def quarantine(settings: Settings, batch_id: int | None, csv_path: str | None, limit: int) -> None:
    """List quarantined rows (file, line, column, reason), or export them with --csv."""
    database = open_database(settings)
    database.require_current()
    query = select(QuarantinedRow).order_by(QuarantinedRow.id)
    if batch_id is not None:
        query = query.where(QuarantinedRow.batch_id == batch_id)
    with database.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        if csv_path is not None:
            _export(session.scalars(query.execution_options(yield_per=5000)), csv_path)
            if csv_path != "-":
                click.echo(f"wrote {total:,} quarantined rows to {csv_path}")
            return
        rows = session.scalars(query.limit(limit)).all()
    for row in rows:
        where = f"{row.source}:{row.line}" if row.line is not None else row.source
        column = f" [{row.column}]" if row.column else ""
        click.echo(f"#{row.id} batch {row.batch_id} {where}{column}: {row.reason}")
    shown = len(rows)
    click.echo(f"{total:,} quarantined rows" + (f" (showing {shown}; export all with --csv FILE)" if total > shown else ""))


def _export(rows, csv_path: str) -> None:
    handle = sys.stdout if csv_path == "-" else Path(csv_path).open("w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(handle)
        writer.writerow(QUARANTINE_COLUMNS)
        for row in rows:
            writer.writerow([getattr(row, c) if c != "created_at" else row.created_at.isoformat()
                             for c in QUARANTINE_COLUMNS])
    finally:
        if handle is not sys.stdout:
            handle.close()
