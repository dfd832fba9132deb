"""Expected failures of the command line, told in one line each.

An operator who points Passgate at a stopped database, a mistyped URL or a server
that is not running needs to read what to fix, not a Python traceback. ``describe``
turns the exceptions such mistakes raise into that one line (or returns None for a
real bug, which keeps its traceback); ``PassgateGroup`` applies it to every command
and shows the traceback only with ``--debug``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import click
import httpx
import sqlalchemy.exc as sa_exc
from alembic.util.exc import CommandError
from pydantic import ValidationError
from pydantic_settings import SettingsError

from passgate.config import Settings
from passgate.domain.errors import PassgateError

ENV_PREFIX = "PASSGATE_"
# Read by the test suite, not by Passgate itself; known so they draw no warning.
TEST_SUITE_VARIABLES = frozenset(
    {
        "PASSGATE_TEST_POSTGRES_URL",
        "PASSGATE_SCREENSHOTS",
        "PASSGATE_CHROMIUM",
        "PASSGATE_KILL_TAPS",
        "PASSGATE_KILL_SEED",
        "PASSGATE_SCHEMATHESIS_EXAMPLES",
    }
)
# Never echoed: secret settings, and the database URL (it may carry a password).
_SECRET_FIELDS = frozenset(
    {n for n, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)}
    | {"database_url"}
)
_MIGRATE_HINT = "the database has no Passgate schema or an older one: run `passgate migrate`"


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def settings_error(exc: ValidationError) -> str:
    """``invalid setting PASSGATE_PORT: Input should be ... (got '0')``, one per problem."""
    parts = []
    for err in exc.errors():
        loc = err.get("loc") or ()
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if not loc:  # model-level rules already name their variables
            parts.append(msg)
            continue
        field = str(loc[0])
        got = "" if field in _SECRET_FIELDS else f" (got {err.get('input')!r})"
        parts.append(f"{env_name(field)}: {msg}{got}")
    return "invalid setting " + "; ".join(parts)


def _unparsable_setting(exc: SettingsError) -> str:
    found = re.search(r'field "([a-z0-9_]+)"', str(exc))
    name = env_name(found.group(1)) if found else "a PASSGATE_* variable"
    return f'invalid setting {name}: not valid JSON (lists are written as JSON, e.g. ["a", "b"])'


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


def _database_error(exc: sa_exc.DBAPIError) -> str:
    orig = exc.orig
    text = str(orig)
    lowered = text.lower()
    if "no such table" in lowered or "no such column" in lowered:
        return _MIGRATE_HINT
    name = type(orig).__name__
    if name in {"UndefinedTable", "UndefinedColumn"}:
        return _MIGRATE_HINT
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return f"cannot use the database (PASSGATE_DATABASE_URL): {_first_line(text)}"
    return f"database error: {_first_line(text)}"


def describe(exc: BaseException) -> str | None:
    """One line for an expected failure; None for anything else (a bug: keep the trace)."""
    if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
        return settings_error(exc)
    if isinstance(exc, SettingsError):
        return _unparsable_setting(exc)
    if isinstance(exc, PassgateError):
        where = f" ({exc.field})" if exc.field else ""
        return f"{exc.code}{where}: {exc.message}"
    if isinstance(exc, sa_exc.ArgumentError | sa_exc.NoSuchModuleError):
        return (
            f"PASSGATE_DATABASE_URL is not a usable database URL ({_first_line(exc)}); "
            "use sqlite:///path/to/passgate.db or postgresql+psycopg://user@host/dbname"
        )
    if isinstance(exc, sa_exc.DBAPIError):
        return _database_error(exc)
    if isinstance(exc, CommandError):
        hint = ""
        if "Can't locate revision" in str(exc):
            hint = " (a newer Passgate migrated this database: run that version)"
        return f"database migration: {_first_line(exc)}{hint}"
    if isinstance(exc, httpx.TransportError):
        where = ""
        try:
            where = f" {exc.request.url}"
        except RuntimeError:  # no request attached to this error
            where = ""
        return f"cannot reach{where}: {_first_line(exc) or type(exc).__name__} (is it running?)"
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    return None


def unknown_variables(environ: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """Warnings for PASSGATE_* variables nobody reads (a typo silently does nothing)."""
    known_set = set(known) | {env_name(f) for f in Settings.model_fields} | TEST_SUITE_VARIABLES
    warnings = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in known_set:
            continue
        close = difflib.get_close_matches(name, sorted(known_set), n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"warning: {name} is not a Passgate setting and is ignored{hint}")
    return warnings


def option_variables(command: click.Command) -> set[str]:
    """Every environment variable an option of ``command`` or its subcommands reads."""
    found: set[str] = set()
    for param in command.params:
        envvar = getattr(param, "envvar", None)
        if isinstance(envvar, str):
            found.add(envvar)
        elif envvar:
            found.update(envvar)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            found |= option_variables(sub)
    return found


class PassgateGroup(click.Group):
    """The root group: expected failures become one ``Error:`` line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            message = describe(exc)
            if message is None or ctx.params.get("debug"):
                raise
            raise click.ClickException(message + "  (--debug shows the traceback)") from exc
