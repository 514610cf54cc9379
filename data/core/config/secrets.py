"""Secrets that a settings file may not hold: they are read from the environment only.

A TOML file is copied, committed and shown in diffs; a password in it leaks. The documented
rule is that the OPC-UA password and the work-order webhook's bearer token come from the
environment (``PLANTPULSE_OPCUA__PASSWORD``, ``PLANTPULSE_ALERTS__WEBHOOK_TOKEN``, which a secrets
manager or a systemd credential can fill) or from a file of that name in the secrets folder
``PLANTPULSE_SECRETS_DIR`` (a docker or Kubernetes secret), so one found in the settings file is
refused with that fix instead of being used.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plantpulse.data.core.errors import ConfigError

# (section, key) -> the environment variable that must carry it instead.
ENV_ONLY: dict[tuple[str, str], str] = {
    ("opcua", "password"): "PLANTPULSE_OPCUA__PASSWORD",
    ("alerts", "webhook_token"): "PLANTPULSE_ALERTS__WEBHOOK_TOKEN",
}


def refuse_file_secrets(values: Mapping[str, Any], path: Path) -> None:
    """Raise :class:`ConfigError` when the settings file ``path`` (parsed as ``values``) sets a
    value that may only come from the environment."""
    for (section, key), variable in ENV_ONLY.items():
        node = values.get(section)
        if isinstance(node, Mapping) and key in node:
            msg = (f"{path}: [{section}] {key} is set in the settings file, but it is read from the "
                   f"environment only. Remove it from the file and set {variable} instead (from a "
                   "secrets manager or a systemd credential), or put it in a file of that name in the "
                   "secrets folder PLANTPULSE_SECRETS_DIR (a docker secret).")
            raise ConfigError(msg)
