"""``plantpulse opcua-sim`` and ``plantpulse opcua-ingest``: the simulator and the ingest service.

Both run until SIGTERM/SIGINT, then stop cleanly (the ingest service flushes its buffer first).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.store.db import Database, SchemaOutOfDateError, open_database

log = logging.getLogger("plantpulse.opcua")


def quiet_asyncua() -> None:
    """asyncua logs every request at INFO; keep its warnings unless debugging (-v)."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("asyncua").setLevel(logging.WARNING)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


@click.command("opcua-sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 in a container).")
@click.option("--port", default=4840, show_default=True, type=click.IntRange(1, 65535))
@click.option("--path", "url_path", default="/plantpulse/", show_default=True, help="Endpoint path.")
@click.option("--period", default=1.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Seconds between replay steps (one C-MAPSS cycle per step).")
@click.option("--subset", default="FD001", show_default=True, type=click.Choice(["FD001", "FD002", "FD003", "FD004"]))
@click.option("--engines", type=click.IntRange(min=1), default=None, help="Replay only the first N test engines.")
@click.option("--cwru-block", default=0, show_default=True, type=click.IntRange(min=0),
              help="Also replay CWRU vibration, this many samples per step (0 = off).")
@click.option("--loop", is_flag=True, help="Start each series over when it ends.")
@click.option("--faults", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Probability per value of injecting a bad value (status, NaN, type, range, clock).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the fault injection.")
@click.option("--sample", "use_sample", is_flag=True, help="Replay the bundled sample even if datasets are configured.")
@click.option("--asset-prefix", default="", help="Prefix for asset names (to keep live and file data apart).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="History, replay position and PKI (default: <home>/opcua-sim).")
@click.option("--trusted-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Trusted client certificates (default: <state-dir>/pki/trusted).")
@click.option("--history-hours", default=24.0, show_default=True, type=click.FloatRange(min=0.01))
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Stop the replay after this many steps (the server keeps serving history).")
@click.option("--allow-insecure", is_flag=True, help="Also offer an endpoint without signing or encryption.")
@click.pass_obj
def opcua_sim(settings: Settings, host: str, port: int, url_path: str, period: float, subset: str,
              engines: int | None, cwru_block: int, loop: bool, faults: float, seed: int, use_sample: bool,
              asset_prefix: str, state_dir: Path | None, trusted_dir: Path | None, history_hours: float,
              max_steps: int | None, allow_insecure: bool) -> None:
    """Serve real data over OPC-UA: C-MAPSS test engines cycle by cycle (and CWRU vibration)."""
    from plantpulse.connectors.opcua.sim.replay import load_replay
    from plantpulse.connectors.opcua.sim.server import OpcUaSimulator, SimConfig

    quiet_asyncua()
    datasets = None if use_sample else settings.datasets_dir
    assets = load_replay(datasets, subset, engines, cwru_block, asset_prefix)
    password = settings.opcua.password.get_secret_value() if settings.opcua.password else None
    config = SimConfig(
        state_dir=state_dir or settings.home / "opcua-sim", host=host, port=port, path=url_path,
        period_s=period, loop=loop, faults=faults, seed=seed, allow_insecure=allow_insecure,
        trusted_dir=trusted_dir, username=settings.opcua.username, password=password,
        history_hours=history_hours, max_steps=max_steps)
    log.info("Replaying %d assets from %s.", len(assets), datasets or "the bundled sample")

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        await OpcUaSimulator(config, assets).run(stop)

    asyncio.run(main())


def _check_schema(db: Database) -> None:
    """Fail on an old schema; a database that is not reachable yet is fine (we buffer)."""
    try:
        db.require_current()
    except SchemaOutOfDateError:
        raise
    except SQLAlchemyError as err:
        log.warning("Database not reachable at start (%s); buffering until it is.", str(err).splitlines()[0])


@click.command("opcua-ingest")
@click.option("--endpoint", default=None, help="Server endpoint (default: opcua.endpoint).")
@click.option("--nodes", "nodes_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="TOML node map (default: opcua.nodes_file, else browse opcua.browse_root).")
@click.option("--browse-root", default=None, help="Folder to browse for assets (node id or path).")
@click.option("--name", default=None, help="Connector instance name (names its buffer file).")
@click.option("--allow-insecure", is_flag=True, default=None,
              help="Connect without signing or encryption (security policy None). Test networks only.")
@click.option("--status-every", default=30.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds between status lines in the log.")
@click.pass_obj
def opcua_ingest(settings: Settings, endpoint: str | None, nodes_file: Path | None, browse_root: str | None,
                 name: str | None, allow_insecure: bool | None, status_every: float) -> None:
    """Run the OPC-UA connector as a service: subscribe, buffer on disk, store in the database."""
    from plantpulse.connectors.opcua.connector import OpcUaConnector
    from plantpulse.pipelines.ingest.opcua import database_sinks

    quiet_asyncua()
    update: dict[str, object] = {"endpoint": endpoint, "nodes_file": nodes_file, "browse_root": browse_root, "name": name}
    if allow_insecure:
        update |= {"allow_insecure": True, "security_policy": "None"}
    opcua = settings.opcua.model_validate(settings.opcua.model_dump() | {k: v for k, v in update.items() if v})
    db = open_database(settings)
    _check_schema(db)
    connector = OpcUaConnector(opcua, database_sinks(db, opcua.endpoint), settings.home)

    async def report(stop: asyncio.Event) -> None:
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), status_every)
            s, f = connector.stats, connector.flush_stats
            log.info("opcua %s: live %d, backfilled %d, new %d, repeated %d, quarantined %d; stored %d "
                     "(%d flushes, %d failed), sessions %d.", opcua.name, s.live, s.history, s.new, s.repeated,
                     s.refused, f.loaded, f.flushes, f.failures, connector.sessions)

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        reporter = asyncio.create_task(report(stop))
        try:
            await connector.run(stop)
        finally:
            stop.set()
            await reporter

    asyncio.run(main())
