"""PlantPulse's one typed, frozen configuration.

Read once at each entry point (CLI, job, dashboard) with :func:`load_settings` and passed down.
Sources, later ones winning: built-in defaults, a TOML file (``--config``, ``PLANTPULSE_CONFIG`` or
``./plantpulse.toml``), files in the secrets folder ``PLANTPULSE_SECRETS_DIR`` (one per secret,
named like its variable), environment variables ``PLANTPULSE_<FIELD>`` (nested sections with a
double underscore: ``PLANTPULSE_ALERTS__RUL_THRESHOLD=30``; lists and tables in JSON:
``PLANTPULSE_DASHBOARD__ENGINEERS='["a@example.com"]'``), then explicit overrides from the caller.
pydantic-settings reads the sources (see :mod:`.sources`). Unknown keys and unknown
``PLANTPULSE_*`` names are rejected, so a typo fails loudly instead of being ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
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
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from plantpulse.data.core.config.database import DatabaseSettings
from plantpulse.data.core.config.jobs import AlertSettings, SchedulerSettings, ScoringSettings, Section
from plantpulse.data.core.config.opcua import OpcUaSettings
from plantpulse.data.core.config.passwords import parse_hash, password_problem
from plantpulse.data.core.config.sources import (
    CONFIG_VARIABLE,
    ENV_PREFIX,
    NESTED_DELIMITER,
    SECRETS_DIR_VARIABLE,
    EnvironmentSource,
    SecretsFolderSource,
    TomlFileSource,
    check_names,
)
from plantpulse.data.core.errors import ConfigError
from plantpulse.data.core.records import DEFAULT_MAX_FIELD_CHARS

DEFAULT_CONFIG_FILE = "plantpulse.toml"

# The sources load_settings() reads, for Settings.settings_customise_sources (highest priority first).
_SOURCES: ContextVar[tuple[PydanticBaseSettingsSource, ...]] = ContextVar("plantpulse_settings_sources",
                                                                          default=())


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
            env = f"PLANTPULSE_DASHBOARD__{str(info.field_name).upper()}"
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
            env = f"PLANTPULSE_DASHBOARD__{str(info.field_name).upper()}"
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


class Settings(BaseSettings):
    """Everything an entry point needs to know about where things live.

    ``Settings(...)`` itself is the defaults and its arguments, nothing else; :func:`load_settings`
    adds the file, the secrets folder and the environment.
    """

    model_config = SettingsConfigDict(frozen=True, extra="forbid", env_prefix=ENV_PREFIX,
                                      env_nested_delimiter=NESTED_DELIMITER, case_sensitive=False)

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, *_SOURCES.get())

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


def load_settings(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings from defaults, a TOML file, the secrets folder, the environment and
    ``overrides`` (later ones win; ``None`` overrides are ignored).

    ``env`` replaces ``os.environ`` (tests pass a dict). Raises :class:`ConfigError` naming the
    source and the setting when anything is wrong.
    """
    env = os.environ if env is None else env
    path = config_file or env.get(CONFIG_VARIABLE) or None  # an empty variable is no file
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
    source = f" (config file {path})" if path else ""
    try:
        sources = _sources(env, Path(path) if path is not None else None)
        token = _SOURCES.set(sources)
        try:
            return Settings(**{k: v for k, v in overrides.items() if v is not None})
        finally:
            _SOURCES.reset(token)
    except ValidationError as err:
        msg = f"Invalid PlantPulse settings{source}:\n{_describe(err)}"
        raise ConfigError(msg) from err
    except SettingsError as err:
        msg = f"Invalid PlantPulse settings{source}: {err}{_cause(err)}."
        raise ConfigError(msg) from err


def _sources(env: Mapping[str, str], path: Path | None) -> tuple[PydanticBaseSettingsSource, ...]:
    """The sources of :func:`load_settings`, highest priority first, their names checked."""
    environment = EnvironmentSource(Settings, env)
    check_names(Settings, environment.env_vars, "in the environment")
    sources: list[PydanticBaseSettingsSource] = [environment]
    folder = env.get(SECRETS_DIR_VARIABLE)
    if folder:
        secrets = _secrets_folder(Path(folder))
        check_names(Settings, secrets.env_vars, f"in the secrets folder {folder} ({SECRETS_DIR_VARIABLE}; "
                    "a file is named like its variable, in any case)")
        sources.append(secrets)
    if path is not None:
        sources.append(TomlFileSource(Settings, path))
    return tuple(sources)


def _secrets_folder(folder: Path) -> SecretsFolderSource:
    if folder.exists() and not folder.is_dir():
        msg = (f"{SECRETS_DIR_VARIABLE}={folder} is not a folder. Point it at the folder holding one "
               "file per secret (such as /run/secrets), or unset it.")
        raise ConfigError(msg)
    try:
        return SecretsFolderSource(Settings, folder)
    except SettingsError as err:  # too large, too many entries
        msg = f"Cannot read the secrets folder {folder} ({SECRETS_DIR_VARIABLE}): {err}."
        raise ConfigError(msg) from err


def _cause(err: BaseException) -> str:
    """The reason below a pydantic-settings error, e.g. the file system's or JSON's complaint."""
    cause = err.__cause__
    return f" ({cause})" if cause is not None and str(cause) else ""


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
