"""Every `passgate` command the README and docs/operations.md give parses as written.

Each `.venv/bin/passgate ...` in their shell blocks is resolved through the command tree
and its options and arguments are parsed (nothing runs), so a renamed command, a removed
option or a missing argument in the docs fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from passgate.cli import main

ROOT = Path(__file__).parents[1]
DOCS = ("README.md", "docs/operations.md")


def _commands() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for block in re.findall(r"```sh\n(.*?)```", (ROOT / doc).read_text(), re.DOTALL):
            for line in block.splitlines():
                for part in re.split(r"&&|\|", line):
                    part = part.strip()
                    if part.startswith(".venv/bin/passgate "):
                        found.append((doc, part))
    return found


def _parse(words: list[str]) -> click.Command:
    """Parse ``words`` (after `passgate`) down to the leaf command; raises on a bad line."""
    ctx = main.make_context("passgate", list(words))
    command: click.Command = main
    while isinstance(command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]  # what the group left to its subcommand
        name, sub, args = command.resolve_command(ctx, rest)
        assert sub is not None, f"no command {name!r}"
        ctx = sub.make_context(name or "", args, parent=ctx)
        command = sub
    return command


COMMANDS = _commands()


def test_the_docs_give_passgate_commands() -> None:
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize(("doc", "line"), COMMANDS, ids=[line for _, line in COMMANDS])
def test_a_documented_command_parses(doc: str, line: str) -> None:
    # Placeholders such as <code from the API>, and shell substitutions, stand for a word.
    text = re.sub(r"<[^>]*>|\$\([^)]*\)", "X", line)
    words = shlex.split(text, comments=True)[1:]
    try:
        _parse(words)
    except click.UsageError as exc:
        pytest.fail(f"{doc}: `{line}`: {exc.format_message()}")
