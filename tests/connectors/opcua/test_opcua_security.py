"""Security against a real simulator: refusals are clear, the insecure endpoint needs an opt-in."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import pytest
from opcua_support import SimProcess, cross_trust, make_sim, settings_for, wait_for
from pydantic import SecretStr

from plantpulse.connectors.opcua.connector import OpcUaConnector
from plantpulse.connectors.opcua.security import OpcUaSecurityError
from plantpulse.data.core.errors import ConfigError
from plantpulse.data.store.db import Database
from plantpulse.pipelines.ingest.opcua import database_sinks

pytestmark = [pytest.mark.integration]

USER, PASSWORD = "operator", "s3cret-for-tests"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory):
    """One password-protected simulator (also offering the insecure endpoint) for the module."""
    tmp = tmp_path_factory.mktemp("secured")
    pki = tmp / "client-pki"
    cross_trust(tmp / "sim", pki)
    sims: list[SimProcess] = []
    sim = make_sim(sims, tmp / "sim", ["--engines", "1", "--period", "0.5", "--allow-insecure"],
                   env={"PLANTPULSE_OPCUA__USERNAME": USER, "PLANTPULSE_OPCUA__PASSWORD": PASSWORD}).start()
    yield sim, pki, tmp
    sim.kill()


def run_briefly(connector: OpcUaConnector, seconds: float = 20) -> None:
    """Run until the first session is up (then stop), or until the connector gives up."""
    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(connector.run(stop))
        waiter = asyncio.create_task(connector.connected.wait())
        done, _ = await asyncio.wait({task, waiter}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        waiter.cancel()
        await task  # re-raises the connector's error, if any

    asyncio.run(main())


def connector_for(sim: SimProcess, pki: Path, tmp: Path, **extra: object) -> OpcUaConnector:
    db = Database(f"sqlite:///{tmp / 'client.db'}")
    db.upgrade()
    settings = settings_for(sim.endpoint, pki, **extra)
    return OpcUaConnector(settings, database_sinks(db, settings.endpoint), tmp / "home")


@pytest.mark.parametrize("mode", ["SignAndEncrypt", "Sign"], ids=["sign-and-encrypt", "sign"])
def test_right_credentials_and_trusted_certificates_connect(secured, mode: str, tmp_path: Path) -> None:
    sim, pki, _ = secured
    connector = connector_for(sim, pki, tmp_path, security_mode=mode, username=USER, password=SecretStr(PASSWORD))
    run_briefly(connector)
    assert connector.sessions == 1


def test_wrong_password_is_refused_with_a_clear_message(secured, tmp_path: Path) -> None:
    sim, pki, _ = secured
    connector = connector_for(sim, pki, tmp_path, username=USER, password=SecretStr("wrong"))
    with pytest.raises(OpcUaSecurityError, match=r"refused user 'operator' \(BadUserAccessDenied\).*"
                                                  r"PLANTPULSE_OPCUA__PASSWORD"):
        run_briefly(connector)


def test_missing_user_is_refused(secured, tmp_path: Path) -> None:
    sim, pki, _ = secured
    with pytest.raises(OpcUaSecurityError, match=r"refused anonymous access"):
        run_briefly(connector_for(sim, pki, tmp_path))


def test_untrusted_server_certificate_is_refused_and_kept_for_review(secured, tmp_path: Path) -> None:
    sim, pki, _ = secured
    own_pki = tmp_path / "pki"
    shutil.copytree(pki / "own", own_pki / "own")  # same client identity, empty trust list
    connector = connector_for(sim, own_pki, tmp_path, username=USER, password=SecretStr(PASSWORD))
    with pytest.raises(OpcUaSecurityError, match=r"certificate of the OPC-UA server .* is not trusted.*move it into"):
        run_briefly(connector)
    assert len(list((own_pki / "rejected").glob("*.der"))) == 1


def test_untrusted_client_certificate_is_refused(secured, tmp_path: Path) -> None:
    sim, pki, _ = secured
    other = tmp_path / "other-pki"
    (other / "trusted").mkdir(parents=True)
    shutil.copy(next((pki / "trusted").iterdir()), other / "trusted")  # trusts the server, unknown to it
    connector = connector_for(sim, other, tmp_path, username=USER, password=SecretStr(PASSWORD))
    with pytest.raises(OpcUaSecurityError, match=r"refused this client's certificate \(BadCertificateUntrusted\)"):
        run_briefly(connector)
    wait_for(lambda: any((sim.state_dir / "pki" / "rejected").glob("*.der")), 5, "the server's rejected copy")


def test_insecure_endpoint_needs_the_explicit_opt_in(secured, tmp_path: Path) -> None:
    sim, pki, _ = secured
    with pytest.raises(ConfigError, match=r"allow_insecure is false.*PLANTPULSE_OPCUA__ALLOW_INSECURE"):
        run_briefly(connector_for(sim, pki, tmp_path, security_policy="None"))


def test_insecure_endpoint_with_opt_in_connects_and_says_so(secured, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    sim, pki, _ = secured
    connector = connector_for(sim, pki, tmp_path, security_policy="None", allow_insecure=True,
                              username=USER, password=SecretStr(PASSWORD))
    with caplog.at_level(logging.WARNING):
        run_briefly(connector)
    assert connector.sessions == 1
    assert any("INSECURE OPC-UA connection" in r.getMessage() for r in caplog.records)
