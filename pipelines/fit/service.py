"""A fit as a leased job: one ``job_runs`` row per run (job ``fit:<asset_type>-<target>``), so two
fits of one model name never overlap (in any process), the run's ``details`` say which stage it is
in (a dashboard reload shows it), and a failure is recorded with its error.

``details`` while running: ``stage`` (reading windows, training baseline / survival / moe, evaluating,
writing report), ``step`` (``epoch k of n`` while the MoE trains), ``asset_type``, ``target``,
``label_source``, ``out_dir``; when done also ``report`` (the Markdown path), ``report_json``,
``winner``, ``promoted`` and ``versions`` (``{kind: {"id": ..., "label": ...}}``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from plantpulse.data.core.errors import ConfigError
from plantpulse.data.store.db import Database
from plantpulse.data.store.db_errors import DATABASE_ERRORS, brief
from plantpulse.data.store.schema import JobRun
from plantpulse.pipelines.fit.job import Echo, FitResult, model_name, run_fit
from plantpulse.pipelines.fit.spec import FitSpec
from plantpulse.pipelines.runtime.leases import Lease, finish_run, leased, update_details

log = logging.getLogger(__name__)

FIT_JOB_PREFIX = "fit:"
_JOB_NAME_MAX = JobRun.__table__.c.job.type.length


def job_name(spec: FitSpec) -> str:
    """``fit:<asset_type>-<target>``: the job whose lease keeps two fits of one model name apart."""
    name = FIT_JOB_PREFIX + model_name(spec)
    if len(name) > _JOB_NAME_MAX:
        raise ConfigError(f"asset_type {spec.asset_type!r} is too long for a job name ({name!r} has "
                          f"{len(name)} characters, at most {_JOB_NAME_MAX}); use a shorter asset type.")
    return name


def _reporter(db: Database, lease: Lease) -> Any:
    def report(stage: dict[str, Any]) -> None:
        try:
            update_details(db, lease, stage)
        except DATABASE_ERRORS as err:  # progress is a courtesy: a database hiccup must not stop training
            log.warning("Could not record the progress of run %d (%s): %s", lease.run_id, stage, brief(err))
    return report


def run_fit_job(spec: FitSpec, db: Database, model_dir: Path, out_dir: Path, *, lease_s: float,
                heartbeat_s: float, promote: bool = True, echo: Echo = print, show_progress: bool = True,
                resume: bool = False, trigger: str = "cli") -> FitResult:
    """:func:`plantpulse.pipelines.fit.job.run_fit` as one leased, recorded run (see the module
    docstring). Raises :class:`plantpulse.pipelines.runtime.leases.JobBusyError` while another fit of
    the same name runs."""
    details = {"stage": "starting", "step": None, "asset_type": spec.asset_type, "target": spec.target,
               "label_source": spec.source, "out_dir": str(out_dir.resolve()), "trigger": trigger}
    with leased(db, job_name(spec), lease_s, heartbeat_s, details) as lease:
        result = run_fit(spec, db, model_dir, out_dir, promote=promote, echo=echo, show_progress=show_progress,
                         resume=resume, progress=_reporter(db, lease))
    versions = {kind: {"id": result.version_ids[kind], "label": label} for kind, label in result.versions.items()}
    finish_run(db, lease, "succeeded", int(result.info.get("windows", 0)), details={
        "stage": "done", "step": None, "report": str(result.report.resolve()),
        "report_json": str((result.report.parent / "fit-report.json").resolve()), "winner": result.winner,
        "promoted": result.promoted, "versions": versions})
    return result
