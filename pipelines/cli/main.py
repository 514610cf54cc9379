"""The ``plantpulse`` command line.

Subcommands live in their own modules and are imported only when used, so ``plantpulse --help``
stays fast and a command whose optional dependency is missing fails only when it is run.
A database that fails (unreachable, missing, dropped during the run) ends any command with one
line naming the database (password hidden) and the fix, and exit status 2; ``-v`` adds the details.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

# OpenMP threads that spin-wait for work burn the cores other processes (and other threads of
# this one) need; passive waiting must be chosen before torch loads its OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import click

from plantpulse.data.core.config.settings import Settings, load_settings
from plantpulse.data.core.errors import PlantPulseError

log = logging.getLogger("plantpulse.cli")

# name -> "module:attribute" of a click command. One line per subcommand.
LAZY_COMMANDS: dict[str, str] = {
    "db": "plantpulse.pipelines.cli.db:db",
    "datasets": "plantpulse.pipelines.cli.datasets:datasets",
    "ingest": "plantpulse.pipelines.cli.ingest:ingest",
    "demo": "plantpulse.pipelines.cli.demo:demo",
    "dashboard": "plantpulse.pipelines.cli.dashboard:dashboard",
    "opcua-sim": "plantpulse.pipelines.cli.opcua:opcua_sim",
    "opcua-ingest": "plantpulse.pipelines.cli.opcua:opcua_ingest",
    "score": "plantpulse.pipelines.cli.score:score",
    "alerts": "plantpulse.pipelines.cli.score:alerts",
    "scheduler": "plantpulse.pipelines.cli.scheduler:scheduler",
    "jobs": "plantpulse.pipelines.cli.scheduler:jobs",
    "weld": "plantpulse.pipelines.cli.weld:weld",
    "train": "plantpulse.pipelines.cli.train:train",
    "evaluate": "plantpulse.pipelines.cli.evaluate:evaluate",
    "models": "plantpulse.pipelines.cli.models:models",
    "fit": "plantpulse.pipelines.cli.fit:fit",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module_name, attr = LAZY_COMMANDS[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        """Run the subcommand; a database failure becomes a DatabaseUnavailableError (one line)."""
        from plantpulse.data.store.db_errors import DATABASE_ERRORS, DatabaseUnavailableError, describe

        try:
            return super().invoke(ctx)
        except DATABASE_ERRORS as err:
            settings = ctx.obj
            if not isinstance(settings, Settings):
                raise
            log.debug("Database failure, in full:", exc_info=True)
            raise DatabaseUnavailableError(describe(err, settings.db_url, settings.database)) from err


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML settings file (default: $PLANTPULSE_CONFIG or ./plantpulse.toml if present).",
)
@click.option("--db", "database_url", default=None, help="Database URL (overrides settings).")
@click.option("--home", default=None, type=click.Path(file_okay=False), help="State folder.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.version_option(package_name="plantpulse")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, database_url: str | None,
        home: str | None, verbose: bool) -> None:
    """PlantPulse: predictive maintenance and weld quality control for plants.

    Ingest sensor files, maintenance logs and weld images into one database, train and
    evaluate the models on public PHM data, score the fleet, and serve the dashboard.
    """
    settings = load_settings(config_file, database_url=database_url, home=home)
    level = logging.DEBUG if verbose else getattr(logging, settings.log_level)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = settings


def main(argv: list[str] | None = None) -> int:
    """Console entry point: PlantPulse errors become one clear line and exit status 2."""
    try:
        cli.main(args=argv, prog_name="plantpulse", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except PlantPulseError as err:
        click.echo(f"error: {err}", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
