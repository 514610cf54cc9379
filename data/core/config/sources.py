"""Where the settings come from: a TOML file, a folder of secret files and the environment.

pydantic-settings reads them: nested names with a double underscore, JSON for list and table
values, one file per secret. This module adds what PlantPulse needs on top of it:

* the environment is any mapping (``os.environ``, or a plain dict in tests);
* two short aliases (``PLANTPULSE_DATASETS``, ``PLANTPULSE_DB_URL``) and the few ``PLANTPULSE_*``
  variables that are read elsewhere and are not settings;
* an unknown ``PLANTPULSE_*`` name (a variable, or a file in the secrets folder) is an error that
  lists the valid names, and a list or table value that is not JSON says how to write it;
* the settings file is refused when it holds a secret, and a file that cannot be read or parsed
  says which one and why.
"""

from __future__ import annotations

import difflib
import json
import tomllib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NestedSecretsSettingsSource,
    SecretsSettingsSource,
    TomlConfigSettingsSource,
)

from plantpulse.data.core.config.secrets import refuse_file_secrets
from plantpulse.data.core.errors import ConfigError

ENV_PREFIX = "PLANTPULSE_"
NESTED_DELIMITER = "__"
SECRETS_DIR_VARIABLE = ENV_PREFIX + "SECRETS_DIR"
CONFIG_VARIABLE = ENV_PREFIX + "CONFIG"

# Short names kept for the two most used settings (lower case, without the prefix).
ALIASES = {"datasets": "datasets_dir", "db_url": "database_url"}
# PLANTPULSE_* variables that something else reads: they are not settings.
NOT_SETTINGS = frozenset({"config", "secrets_dir", "datasets_mirror"})
NOT_SETTINGS_PREFIXES = ("test_",)  # the test suite's switches, e.g. PLANTPULSE_TEST_POSTGRES_URL

_PREFIX = ENV_PREFIX.lower()
_SECRET_WORDS = ("password", "secret", "token", "hash")


def setting_variables(variables: Mapping[str, str | None]) -> dict[str, str | None]:
    """The entries of ``variables`` that name settings: lower case, prefix kept, aliases resolved.

    Names are matched without regard to case, as pydantic-settings matches them. When an alias and
    the full name are both given, the full name wins.
    """
    named: dict[str, str | None] = {}
    aliased: dict[str, str | None] = {}
    for key, value in variables.items():
        lower = key.lower()
        if not lower.startswith(_PREFIX):
            continue
        name = lower[len(_PREFIX):]
        if name in NOT_SETTINGS or name.startswith(NOT_SETTINGS_PREFIXES):
            continue
        if name in ALIASES:
            aliased[ALIASES[name]] = value
        else:
            named[name] = value
    for name, value in aliased.items():
        named.setdefault(name, value)
    return {_PREFIX + name: value for name, value in named.items()}


class EnvironmentSource(EnvSettingsSource):
    """``PLANTPULSE_*`` settings from a mapping instead of the process environment."""

    def __init__(self, settings_cls: type[BaseSettings], variables: Mapping[str, str | None]) -> None:
        self._variables = setting_variables(variables)
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._variables


class SecretsFolderSource(NestedSecretsSettingsSource):
    """Settings from files named like their variable (``plantpulse_dashboard__password``).

    Files of other names are left alone, so the folder may be shared (``/run/secrets``); a folder
    that does not exist gives nothing.
    """

    def __init__(self, settings_cls: type[BaseSettings], folder: Path) -> None:
        super().__init__(SecretsSettingsSource(settings_cls, secrets_dir=folder), secrets_dir_missing="ok")

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return setting_variables(super()._load_env_vars())


class TomlFileSource(TomlConfigSettingsSource):
    """The settings file, refused when missing, unparsable or holding a secret."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        if not path.is_file():
            why = "it is a folder" if path.is_dir() else "no such file"
            msg = f"Cannot read config file {path}: {why}. Check the path given to --config or {CONFIG_VARIABLE}."
            raise ConfigError(msg)
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            values = super()._read_file(file_path)
        except OSError as err:
            msg = f"Cannot read config file {file_path}: {err.strerror}. Check the path given to --config."
            raise ConfigError(msg) from err
        except tomllib.TOMLDecodeError as err:
            msg = f"{file_path}: not valid TOML ({err}). Fix the file or remove it."
            raise ConfigError(msg) from err
        refuse_file_secrets(values, Path(str(file_path)))
        return values


def check_names(settings_cls: type[BaseModel], variables: Mapping[str, str | None], origin: str) -> None:
    """Raise :class:`ConfigError` when a name in ``variables`` (from :func:`setting_variables`)
    is no setting, or gives a list or table value that is not JSON. ``origin`` says where the
    names come from ("in the environment", "in the secrets folder /run/secrets")."""
    problems = []
    for key, value in variables.items():
        name = key[len(_PREFIX):]
        problem = _name_problem(settings_cls, name.split(NESTED_DELIMITER))
        kind = _json_kind(settings_cls, name) if problem is None else None
        if kind and isinstance(value, str):
            problem = _json_problem(name, value, kind)
        if problem:
            problems.append(f"  {_variable(name)}: {problem}")
    if problems:
        msg = (f"Invalid PlantPulse settings {origin}:\n" + "\n".join(problems) +
               f"\nFix or remove them. Every {ENV_PREFIX}* name is a setting, except {CONFIG_VARIABLE}, "
               f"{SECRETS_DIR_VARIABLE}, {ENV_PREFIX}DATASETS_MIRROR and {ENV_PREFIX}TEST_*.")
        raise ConfigError(msg)


def _variable(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _name_problem(model: type[BaseModel], parts: list[str]) -> str | None:
    """Why the setting path ``parts`` does not exist in ``model``, or None when it does."""
    path: list[str] = []
    for depth, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            choices = list(fields) + (list(ALIASES) if not path else [])
            guess = difflib.get_close_matches(part, choices, n=1)
            hint = f" Did you mean {_variable(NESTED_DELIMITER.join([*path, guess[0]]))}?" if guess else ""
            where = f"section '{'.'.join(path)}' has" if path else "there is"
            valid = ", ".join(_variable(NESTED_DELIMITER.join([*path, f])) for f in fields)
            return f"{where} no setting '{part}'.{hint} Valid names: {valid}."
        path.append(part)
        inner = _unwrap(fields[part].annotation)
        rest = parts[depth + 1:]
        if not rest:
            return None
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            model = inner
            continue
        if get_origin(inner) is dict and len(rest) == 1:
            return None  # one entry of a table, e.g. PLANTPULSE_ALERTS__ANOMALY_THRESHOLDS__MOE
        return f"'{'.'.join(path)}' is one setting, not a section: set {_variable(NESTED_DELIMITER.join(path))}."
    return None


def _json_kind(settings_cls: type[BaseModel], name: str) -> str | None:
    """"list" or "table" when the setting ``name`` (a path joined by ``__``) is read as JSON."""
    model: Any = settings_cls
    for part in name.split(NESTED_DELIMITER):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None  # an entry of a table: a plain value
        model = _unwrap(model.model_fields[part].annotation)
    if (isinstance(model, type) and issubclass(model, BaseModel)) or get_origin(model) is dict:
        return "table"
    return "list" if get_origin(model) in (tuple, list, set, frozenset) else None


def _json_problem(name: str, value: str, kind: str) -> str | None:
    try:
        json.loads(value)
    except ValueError as err:
        example = '["a@example.com", "b@example.com"]' if kind == "list" else '{"key": 1.5}'
        shown = "" if any(word in name for word in _SECRET_WORDS) else f" Got {value!r}."
        return f"a {kind} is written in JSON, e.g. {_variable(name)}='{example}' ({err}).{shown}"
    return None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``; anything else unchanged."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
