"""Every `plantpulse ...` command the dashboard tells a user to run exists in the CLI."""

from __future__ import annotations

import re
from importlib import resources

import click
import pytest

from plantpulse.pipelines.cli.main import cli

# A command as the pages quote it: after a quote or backtick, lower-case words until anything else.
_COMMAND = re.compile(r"""[`'"]plantpulse ((?:[a-z][a-z0-9-]*)(?: [a-z][a-z0-9-]*)*)""")


def _quoted_commands() -> list[tuple[str, str]]:
    found = []
    for path in sorted(resources.files("plantpulse.app").rglob("*.py")):
        for words in _COMMAND.findall(path.read_text(encoding="utf-8")):
            found.append((path.name, words))
    return found


def _resolve(words: str) -> None:
    command: click.Command = cli
    context = click.Context(cli)
    for word in words.split():
        if not isinstance(command, click.Group):
            return  # the rest are arguments
        sub = command.get_command(context, word)
        if sub is None:
            known = ", ".join(command.list_commands(context))
            pytest.fail(f"`plantpulse {words}`: no command {word!r} (available: {known})")
        command = sub


def test_the_pages_quote_commands() -> None:
    assert len(_quoted_commands()) >= 10


@pytest.mark.parametrize(("page", "words"), _quoted_commands(), ids=lambda v: str(v))
def test_every_quoted_command_exists(page: str, words: str) -> None:
    _resolve(words)
