"""Typed settings of the live jobs: scoring, alert rules and the scheduler.

Sections of :class:`plantpulse.data.core.config.settings.Settings`: ``scoring``, ``alerts``, ``scheduler``
(environment: ``PLANTPULSE_ALERTS__RUL_THRESHOLD=30``, ``PLANTPULSE_SCHEDULER__SCORE_CRON=...``).
Secrets (the work-order webhook token) come from the environment or the secrets folder only;
``[alerts] webhook_token`` in a settings file is refused (:mod:`.secrets`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class Section(BaseModel):
    """A settings section: frozen, and an unknown key is an error (typos never pass silently)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ScoringSettings(Section):
    """Which model scores the fleet, and on which engine."""

    model: str | None = Field(None, min_length=1,
                              description="one model name in model_versions (production, else newest) to "
                                          "score with; unset: the production model of each asset's type")
    engine: Literal["local", "ray"] = "local"
    ray_address: str | None = Field(None, description="Ray cluster address, e.g. ray://head:10001; None = local Ray")
    ray_workers: int = Field(2, ge=1, description="parallel scoring tasks on Ray")
    batch_size: int = Field(256, ge=1, description="windows per predict call")
    log_events: int = Field(20, ge=0, description="recent maintenance-log events given to models that read "
                                                  "text, per asset (0 = none)")
    log_lookback_days: float = Field(7.0, gt=0, description="how far back before a window's end those events go")


class AlertSettings(Section):
    """Alert rules. RUL in the asset's own unit (cycles, hours)."""

    rul_threshold: float = Field(30.0, ge=0, description="alert when the RUL (see rul_basis) is below")
    rul_basis: Literal["mean", "lower"] = Field("mean", description="compare the mean, or the interval's lower end")
    rul_critical: float = Field(10.0, ge=0, description="critical when the RUL mean is below")
    fault_prob_threshold: float = Field(0.8, gt=0, le=1, description="alert when a fault is this likely (P(not normal) "
                                        "when the model has a normal class, else the likeliest class)")
    normal_classes: tuple[str, ...] = Field(("normal", "healthy", "none", "no_failure"),
                                            description="fault classes that are not findings")
    anomaly_threshold: float = Field(3.0, gt=0, description="anomaly score alert level for unlisted predictors")
    anomaly_thresholds: dict[str, float] = Field(
        default_factory=lambda: {"baseline": 3.0, "moe": 0.9},
        description="per predictor kind: baseline = health distance, moe = score in [0, 1)")
    pchart_sigma: float = Field(3.0, gt=0, description="control limits of the weld reject p-chart")
    pchart_min_inspections: int = Field(10, ge=1, description="smallest subgroup (cell, shift) judged")
    pchart_baseline_subgroups: int = Field(20, ge=2, description="past subgroups forming the centre line")
    shift_starts: tuple[int, ...] = Field((6, 14, 22), min_length=1, description="shift start hours, plant time")
    workorder_dir: Path | None = Field(None, description="work-order CSV folder; default home/workorders")
    webhook_url: str | None = Field(None, pattern=r"^https?://", description="POST each work order here")
    webhook_token: SecretStr | None = Field(None, description="bearer token; env PLANTPULSE_ALERTS__WEBHOOK_TOKEN "
                                                              "or the secrets folder, never the settings file")
    webhook_timeout_s: float = Field(10.0, gt=0)
    webhook_retries: int = Field(3, ge=0, le=10, description="retries of a failed POST (5xx, 429, no answer)")
    webhook_backoff_s: float = Field(2.0, ge=0, le=60,
                                     description="retry back-off factor: retries wait 0, 2, 4, ... times this")

    @field_validator("shift_starts")
    @classmethod
    def _hours(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0 <= h < 24 for h in value) or len(set(value)) != len(value):
            msg = f"shift_starts must be distinct hours 0-23. Got {value}."
            raise ValueError(msg)
        return tuple(sorted(value))

    def anomaly_limit(self, predictor_kind: str) -> float:
        return self.anomaly_thresholds.get(predictor_kind, self.anomaly_threshold)


class SchedulerSettings(Section):
    """When jobs run, and how hard they are retried."""

    score_cron: str = Field("*/5 * * * *", description="crontab of the scoring job (plant time zone)")
    score_every_s: float | None = Field(None, gt=0, description="score every N seconds instead (demos, tests)")
    retries: int = Field(3, ge=0, description="extra attempts after a failed run")
    retry_backoff_s: float = Field(30.0, ge=0, description="first retry delay; doubles each attempt")
    lease_s: float = Field(600.0, gt=0, description="a run not heard from for this long is abandoned")
    heartbeat_s: float = Field(30.0, gt=0, description="how often a running job renews its lease")
    misfire_grace_s: float = Field(300.0, gt=0, description="a late run still starts within this")
    ingest_dir: Path | None = Field(None, description="drop folder of sensor CSV/Parquet files to ingest")
    ingest_cron: str = Field("* * * * *", description="crontab of the drop-folder ingest job")
    ingest_asset_type: str = Field("generic", min_length=1, description="type of assets first seen in a file")
    ingest_patterns: tuple[str, ...] = Field(
        ("*.csv", "*.csv.gz", "*.zip", "*.parquet", "*.pq", "*.mat", "*.mat.gz"), min_length=1,
        description="file-name patterns the drop folder takes (other files, e.g. notes, stay where they are); "
                    "the connector for each is chosen by its name as for `plantpulse ingest`")

    @field_validator("score_cron", "ingest_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as err:
            msg = f"must be a 5-field crontab such as '*/5 * * * *'. Got {value!r} ({err})."
            raise ValueError(msg) from err
        return value
