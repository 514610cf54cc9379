"""``plantpulse fit``: train a baseline and the MoE for one asset type from the database, compare
them on held-out assets, register both and promote the better."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from plantpulse.data.core.config.settings import Settings

_PATH = click.Path(dir_okay=False, path_type=Path)


@click.command("fit")
@click.option("--spec", "spec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="TOML training spec; its keys are these options' names with '_' (options override it).")
@click.option("--asset-type", default=None, help="The asset type to train for (lower case, digits, _).")
@click.option("--target", type=click.Choice(["rul", "class", "anomaly"]), default=None)
@click.option("--channel", "channels", multiple=True, help="Input channel (repeatable; default: all).")
@click.option("--failure-kind", default=None, help="RUL: end of life = log events of this kind (e.g. failure); with --event-codes: only codes of events of this kind are classes.")
@click.option("--failure-code", default=None, help="RUL: end of life = log events with this code (or, for an event without a code, this component).")
@click.option("--threshold", default=None, help="RUL: end of life when 'channel >= X' (or '<= X') first holds.")
@click.option("--end-times", type=_PATH, default=None, help="RUL: CSV asset,end_time.")
@click.option("--rul-unit", type=click.Choice(["auto", "cycles", "hours", "seconds"]), default=None,
              help="auto: hours for hourly-or-slower data, else seconds; cycles: one grid step.")
@click.option("--rul-cap", type=float, default=None, help="RUL targets are capped here (default: 95th percentile).")
@click.option("--label-column", default=None, help="class: a channel holding class numbers.")
@click.option("--label-file", type=_PATH, default=None, help="class: CSV asset,class or asset,start,end,class.")
@click.option("--event-codes/--no-event-codes", default=None,
              help="class: the code (or, without one, the component) of the next log event within --horizon-hours, else 'normal'.")
@click.option("--code", "codes", multiple=True, help="class: only these event codes (repeatable).")
@click.option("--horizon-hours", type=float, default=None)
@click.option("--normal-fraction", type=float, default=None, help="anomaly: first share of each asset's life is normal.")
@click.option("--normal-start", type=click.DateTime(), default=None, help="anomaly: normal period start.")
@click.option("--normal-end", type=click.DateTime(), default=None, help="anomaly: normal period end.")
@click.option("--step-seconds", type=float, default=None, help="Grid step (default: median reading spacing).")
@click.option("--max-gap-steps", type=int, default=None, help="Gaps up to this many grid steps are carried forward (default 3).")
@click.option("--snapshots/--no-snapshots", default=None,
              help="High-rate data stored as bursts: one burst is one window (its first --window samples).")
@click.option("--snapshot-gap-seconds", type=float, default=None,
              help="A pause longer than this starts a new burst (default: 10 x the sample spacing).")
@click.option("--window", type=int, default=None, help="Window length in grid steps or samples (default 16).")
@click.option("--stride", type=int, default=None, help="Steps between window ends (default 4).")
@click.option("--holdout", type=float, default=None, help="Share of assets held out for the test (default 0.3).")
@click.option("--epochs", type=int, default=None, help="MoE epochs at most (default 20; it stops after 3 epochs without a better validation score).")
@click.option("--steps", type=int, default=None, help="MoE optimiser steps per epoch (default: one pass).")
@click.option("--preset", default=None, help="MoE size preset when trained from scratch (default tiny).")
@click.option("--backbone", default=None,
              help="'shipped' or a MoE checkpoint: freeze its backbone and train a new adapter + head.")
@click.option("--unfreeze/--no-unfreeze", default=None, help="With --backbone: fine-tune the backbone too.")
@click.option("--log-events", type=int, default=None,
              help="The asset's last N maintenance-log events before each window's end that the MoE reads as "
                   "text, as scoring gives them (default 20; 0: windows only).")
@click.option("--log-lookback-days", type=float, default=None, help="How far back those events may lie (default 7).")
@click.option("--log-features/--no-log-features", default=None,
              help="Per event code (or component) in the training assets' logs: its counts in the last 24 h and "
                   "7 d and the hours since its last event, as structured inputs of every learner, computed the "
                   "same way at scoring (default on).")
@click.option("--feature-path", type=int, default=None,
              help="Width of the MLP through which a network trained from scratch also reads the log features, "
                   "added before its head beside their tokens (default 0: tokens only).")
@click.option("--seed", type=int, default=None)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("fit-report"),
              show_default=True, help="Folder for fit-report.md / .json.")
@click.option("--no-promote", is_flag=True, help="Register every model; promote none.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--resume", is_flag=True, help="Continue the interrupted fit recorded in --out (same spec and data): "
              "finished learners are kept, the MoE continues after its last completed epoch.")
@click.pass_obj
def fit(settings: Settings, spec_file: Path | None, out_dir: Path, no_promote: bool, quiet: bool, resume: bool,
        normal_start: datetime | None, normal_end: datetime | None, **options: object) -> None:
    """Train, compare, register and promote a model for one asset type from the database.

    Each run is a leased job `fit:<asset_type>-<target>` in the job history (one at a time per
    name; its stage is recorded as it goes).

    Example: plantpulse fit --asset-type pump --target rul --failure-kind failure --out report/
    """
    from plantpulse.data.store.db import open_database
    from plantpulse.pipelines.fit.service import run_fit_job
    from plantpulse.pipelines.fit.spec import load_spec

    spec = load_spec(spec_file, {**options, "normal_start": normal_start, "normal_end": normal_end})
    db = open_database(settings)
    db.require_current()
    jobs = settings.scheduler
    result = run_fit_job(spec, db, settings.model_dir, out_dir, lease_s=jobs.lease_s, heartbeat_s=jobs.heartbeat_s,
                         promote=not no_promote, echo=click.echo, show_progress=not quiet, resume=resume)
    click.echo(f"winner: {result.winner}; promoted: {result.promoted or 'none'}")
