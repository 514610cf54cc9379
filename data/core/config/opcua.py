"""Typed settings of the OPC-UA connector and simulator (the ``opcua`` section of Settings).

The password comes from the environment only (``PLANTPULSE_OPCUA__PASSWORD``; a password in
the settings file is refused by ``load_settings``); the user name may come from either
(``PLANTPULSE_OPCUA__USERNAME``). The simulator accepts exactly that user when a password is set,
so one pair of variables configures both ends of a demo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class OpcUaSettings(BaseModel):
    """Where the OPC-UA server is, how to talk to it securely, and how to subscribe."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: str = Field("opc.tcp://127.0.0.1:4840/plantpulse/", pattern=r"^opc\.tcp://",
                          description="server endpoint URL")
    name: str = Field("default", pattern=r"^[A-Za-z0-9_.-]{1,64}$",
                      description="connector instance name; names its buffer file")
    nodes_file: Path | None = Field(None, description="TOML node -> (asset, channel) map; else browse")
    browse_root: str = Field("PlantPulse", description="folder to browse: node id or browse-name path")
    default_asset_type: str = Field("opcua", min_length=1, max_length=64)
    security_policy: Literal["Basic256Sha256", "None"] = "Basic256Sha256"
    security_mode: Literal["SignAndEncrypt", "Sign"] = "SignAndEncrypt"
    allow_insecure: bool = Field(False, description="explicit opt-in to an unencrypted endpoint")
    pki_dir: Path | None = Field(None, description="own cert/key, trusted/ and rejected/; default home/opcua/pki")
    trusted_dir: Path | None = Field(None, description="trusted server certificates; default pki_dir/trusted")
    application_uri: str = Field("urn:plantpulse:opcua", min_length=1)
    username: str | None = Field(None, description="OPC-UA user; env PLANTPULSE_OPCUA__USERNAME")
    password: SecretStr | None = Field(None, description="env PLANTPULSE_OPCUA__PASSWORD only")
    publishing_interval_ms: float = Field(500.0, gt=0)
    sampling_interval_ms: float = Field(0.0, ge=0, description="0 = report every change")
    queue_size: int = Field(100, ge=1, description="values a server keeps per node between publishes")
    nodes_per_subscription: int = Field(2000, ge=1)
    request_timeout_s: float = Field(10.0, gt=0)
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    flush_interval_s: float = Field(1.0, gt=0, description="how often the buffer goes to the database")
    flush_max_rows: int = Field(100_000, ge=100)
    buffer_dir: Path | None = Field(None, description="durable local buffer; default home/opcua")
    buffer_retention_s: float = Field(3600.0, ge=0, description="flushed rows kept for de-duplication")
    backfill: bool = Field(True, description="HistoryRead the gap after every (re)connect")
    backfill_first_s: float = Field(0.0, ge=0, description="history read on the very first connection")
    backfill_max_s: float = Field(86_400.0, gt=0, description="oldest gap backfilled")
    max_future_s: float = Field(300.0, gt=0, description="source timestamps further ahead are clock jumps")
    max_backward_s: float = Field(60.0, ge=0, description="live values older than the last by more: clock jump")
