"""PlantPulse's one typed, frozen configuration.

Read once at each entry point (CLI, job, dashboard) with :func:`load_settings` and passed down.
Sources, later ones winning: built-in defaults, a TOML file (``--config``, ``PLANTPULSE_CONFIG`` or
``./plantpulse.toml``), environment variables ``PLANTPULSE_<FIELD>`` (nested sections with a double
underscore: ``PLANTPULSE_ALERTS__RUL_THRESHOLD=30``), then explicit overrides from the caller.
Unknown keys are rejected, so a typo fails loudly instead of being ignored.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from plantpulse.data.core.config.database import DatabaseSettings
from plantpulse.data.core.config.jobs import AlertSettings, SchedulerSettings, ScoringSettings, Section
from plantpulse.data.core.config.opcua import OpcUaSettings
from plantpulse.data.core.config.passwords import parse_hash, password_problem
from plantpulse.data.core.config.secrets import refuse_file_secrets
from plantpulse.data.core.errors import ConfigError
from plantpulse.data.core.records import DEFAULT_MAX_FIELD_CHARS

ENV_PREFIX = "PLANTPULSE_"
DEFAULT_CONFIG_FILE = "plantpulse.toml"


class IngestSettings(Section):
    """Limits that protect the database and the host from bad uploads."""

    max_upload_mb: float = Field(512.0, gt=0, description="largest single upload accepted")
    max_zip_ratio: float = Field(100.0, gt=1, description="zip bomb guard: uncompressed/compressed")
    max_zip_members: int = Field(20_000, ge=1)
    max_image_pixels: int = Field(40_000_000, ge=1, description="decompression bomb guard")
    chunk_rows: int = Field(250_000, ge=1_000, description="rows parsed per chunk of a large CSV")
    max_field_chars: int = Field(DEFAULT_MAX_FIELD_CHARS, ge=1,
                                 description="longest CSV/log field kept, in characters; a longer one is quarantined")
    max_uploads_per_session: int = Field(20, ge=1, description="dashboard files per session")
    max_session_upload_mb: float = Field(2048.0, gt=0, description="dashboard MB per session, in all")


class DashboardSettings(Section):
    """Who may see the dashboard and how it looks.

    A role's password is given either in plain text (``password``, at least 12 characters) or,
    better, as a scrypt hash (``password_hash``, from ``plantpulse dashboard hash-password``).
    """

    password: SecretStr | None = Field(None, description="viewer password; env only in production")
    engineer_password: SecretStr | None = Field(None, description="engineer (write) password")
    password_hash: str | None = Field(None, description="viewer password as a scrypt hash")
    engineer_password_hash: str | None = Field(None, description="engineer password as a scrypt hash")
    oidc: bool = Field(False, description="use st.login with the OIDC provider in secrets.toml")
    engineers: tuple[str, ...] = Field((), description="OIDC e-mails/subjects with engineer rights")
    refresh_seconds: float = Field(30.0, gt=0)
    max_failed_logins: int = Field(5, ge=1, description="failed sign-ins per name or client ...")
    failed_login_window_s: float = Field(900.0, gt=0, description="... within this many seconds ...")
    lockout_s: float = Field(900.0, gt=0, description="... lock that name or client out this long")

    @field_validator("password", "engineer_password")
    @classmethod
    def _long_enough(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            return value
        problem = password_problem(value.get_secret_value())
        if problem:
            env = f"PLANTPULSE_DASHBOARD__{info.field_name.upper()}"
            msg = (f"the password ({env}) {problem}. Set a longer one, or store a hash "
                   f"instead: run `plantpulse dashboard hash-password` and set {env}_HASH. Unset "
                   f"{env} to turn this sign-in off.")
            raise ValueError(msg)
        return value

    @field_validator("password_hash", "engineer_password_hash")
    @classmethod
    def _readable_hash(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        try:
            parse_hash(value)
        except ValueError as err:
            env = f"PLANTPULSE_DASHBOARD__{info.field_name.upper()}"
            raise ValueError(f"the value ({env}) {err}") from err
        return value.strip()

    @model_validator(mode="after")
    def _one_secret_per_role(self) -> DashboardSettings:
        for plain, hashed in (("password", "password_hash"),
                              ("engineer_password", "engineer_password_hash")):
            if getattr(self, plain) is not None and getattr(self, hashed) is not None:
                msg = (f"dashboard.{plain} and dashboard.{hashed} are both set; keep only the hash "
                       f"(unset PLANTPULSE_DASHBOARD__{plain.upper()}).")
                raise ValueError(msg)
        return self

    @property
    def has_passwords(self) -> bool:
        """True when at least one role can sign in with a password."""
        return any(value is not None for value in (self.password, self.engineer_password,
                                                   self.password_hash, self.engineer_password_hash))


class WeldSettings(Section):
    """Weld inspection: the detector, its CPU training budget and the verdict operating point."""

    checkpoint: Path | None = Field(None, description="weld detector; default: the shipped one")
    model_yaml: str = Field("yolo11n.yaml", pattern=r"\.ya?ml$", description="network definition")
    imgsz: int = Field(320, ge=32, le=2048, multiple_of=32, description="network input size")
    epochs: int = Field(30, ge=1, description="training epochs (~1.6 min each at 320 px on 2 cores)")
    batch: int = Field(16, ge=1)
    target_false_reject: float = Field(0.05, ge=0, le=1, description="verdict operating point")
    reject_classes: tuple[str, ...] = Field(("Bad Weld", "Defect"), min_length=1)
    min_box_score: float = Field(0.01, ge=0, lt=1, description="boxes below are not stored")
    split: Literal["clip", "grouped", "original"] = Field(
        "clip", description="train/val/test protocol: clip (no video clip or photo in two parts); "
                            "grouped (by photo) and original (published folders) are comparisons")
    split_seed: int = Field(0, ge=0)


class Settings(Section):
    """Everything an entry point needs to know about where things live."""

    home: Path = Field(Path(".plantpulse"), description="state folder: database, images, models")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in home")
    datasets_dir: Path | None = Field(None, description="folder with the full public datasets")
    timezone: str = Field("UTC", description="the plant's time zone, used for display")
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    database: DatabaseSettings = DatabaseSettings()
    ingest: IngestSettings = IngestSettings()
    dashboard: DashboardSettings = DashboardSettings()
    weld: WeldSettings = WeldSettings()
    opcua: OpcUaSettings = OpcUaSettings()
    scoring: ScoringSettings = ScoringSettings()
    alerts: AlertSettings = AlertSettings()
    scheduler: SchedulerSettings = SchedulerSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            msg = f"timezone must be an IANA zone name such as 'Europe/Berlin'. Got {value!r}."
            raise ValueError(msg) from err
        return value

    @property
    def db_url(self) -> str:
        """The database URL, defaulting to an SQLite file inside ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'plantpulse.db').resolve()}"


    @property
    def image_store(self) -> Path:
        """Content-addressed pixel store for weld images."""
        return self.home / "images"

    @property
    def model_dir(self) -> Path:
        """Where trained checkpoints are written."""
        return self.home / "models"

    def require_datasets_dir(self) -> Path:
        """The datasets folder, or a clear error saying how to set it."""
        if self.datasets_dir is None:
            msg = (
                "No datasets folder is configured. Set PLANTPULSE_DATASETS (or datasets_dir in "
                "plantpulse.toml) to the folder holding the public datasets; see docs/datasets.md."
            )
            raise ConfigError(msg)
        return self.datasets_dir


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Turn PLANTPULSE_* variables into a nested dict (``A__B`` -> ``{"a": {"b": ...}}``)."""
    out: dict[str, Any] = {}
    aliases = {"DATASETS": "datasets_dir", "DB_URL": "database_url"}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        name = key[len(ENV_PREFIX) :]
        if name.startswith("TEST_"):
            continue  # test-suite switches, not settings
        path = aliases.get(name, name).lower().split("__")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as err:
        msg = f"Cannot read config file {path}: {err.strerror}. Check the path given to --config."
        raise ConfigError(msg) from err
    except tomllib.TOMLDecodeError as err:
        msg = f"{path}: not valid TOML ({err}). Fix the file or remove it."
        raise ConfigError(msg) from err


def load_settings(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings from defaults, a TOML file, the environment and ``overrides``."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = config_file or env.get(ENV_PREFIX + "CONFIG")
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None:
        values = _read_toml(Path(path))
        refuse_file_secrets(values, Path(path))
    values = _merge(values, _env_overrides(env))
    values = _merge(values, {k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(values)
    except ValidationError as err:
        source = f" (config file {path})" if path else ""
        msg = f"Invalid PlantPulse settings{source}:\n{_describe(err)}"
        raise ConfigError(msg) from err


_SECRET_WORDS = ("password", "secret", "token", "hash")


def _describe(err: ValidationError) -> str:
    """One line per problem: where, what, and the value seen unless it may be a secret."""
    lines = []
    for problem in err.errors(include_url=False):
        where = ".".join(str(part) for part in problem["loc"]) or "settings"
        text = problem["msg"].removeprefix("Value error, ")
        value = problem.get("input")
        secret = any(word in where.lower() for word in _SECRET_WORDS)
        shown = not secret and not isinstance(value, Mapping) and problem["type"] != "missing"
        if shown and repr(value) not in text:
            text += f" (got {value!r})"
        lines.append(f"  {where}: {text}")
    return "\n".join(lines)
