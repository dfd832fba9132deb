"""The `passgate` command line. Every option can also be set through PASSGATE_* variables."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError as SettingsError

from passgate import __version__
from passgate.bench import bench
from passgate.cli_errors import (
    PassgateGroup,
    describe,
    option_variables,
    settings_error,
    unknown_variables,
)
from passgate.config import Settings
from passgate.devidp.cli import devidp
from passgate.domain.errors import PassgateError
from passgate.ops_cli import backup, restore
from passgate.passes_cli import certs
from passgate.reader.cli import reader
from passgate.services.actors import Actor, ActorKind
from passgate.sim.cli import sim

CLI_OPERATOR = Actor(
    kind=ActorKind.OPERATOR, id="operator-cli", name="passgate cli", org_id=None, role="owner"
)


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise click.ClickException(settings_error(exc)) from exc


def _container(settings: Settings) -> Any:
    from passgate.bootstrap import build_container

    container = build_container(settings)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:  # closed when the command ends, failed or not
        ctx.call_on_close(container.close)
    return container


def _run(fn: Any) -> Any:
    try:
        return fn()
    except PassgateError as exc:
        raise click.ClickException(describe(exc) or exc.message) from exc


def _require_secret(settings: Settings) -> None:
    try:
        settings.require_secret_key()
    except ValueError as exc:
        raise click.ClickException(f"{exc} (or pass --dev for a local trial)") from exc


def _parse_time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            "use ISO 8601, e.g. 2026-01-01T00:00:00+00:00", param_hint=name
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


database_option = click.option(
    "--database-url",
    envvar="PASSGATE_DATABASE_URL",
    default=None,
    help="SQLAlchemy database URL [env PASSGATE_DATABASE_URL; default sqlite:///passgate.db]",
)


@click.group(
    cls=PassgateGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="passgate")
@click.option(
    "--debug",
    is_flag=True,
    envvar="PASSGATE_DEBUG",
    help="Show the Python traceback of a failure [env PASSGATE_DEBUG]",
)
def main(debug: bool) -> None:
    """Passgate: access control with door keys in Apple Wallet."""
    for warning in unknown_variables(os.environ, option_variables(main)):
        click.echo(warning, err=True)


@main.command()
@database_option
def migrate(database_url: str | None) -> None:
    """Create or upgrade the database schema to the latest version."""
    from passgate.adapters.db import migrate as mig

    settings = _settings(database_url=database_url)
    container = _container(settings)
    steps = mig.pending(container.engine)
    started = time.monotonic()
    with click.progressbar(
        length=steps, label="migrating", file=sys.stderr, item_show_func=lambda r: r
    ) as bar:
        mig.upgrade(container.engine, on_step=lambda rev: bar.update(1, rev))
    click.echo(
        f"database at revision {', '.join(mig.current(container.engine))} "
        f"({steps} migration(s) applied in {time.monotonic() - started:.2f} s)"
    )


@main.command()
@database_option
@click.option(
    "--host", envvar="PASSGATE_HOST", default=None, help="Bind address [env PASSGATE_HOST]"
)
@click.option(
    "--port", envvar="PASSGATE_PORT", type=int, default=None, help="Port [env PASSGATE_PORT]"
)
@click.option(
    "--dev",
    is_flag=True,
    envvar="PASSGATE_DEV_MODE",
    help="Development mode [env PASSGATE_DEV_MODE]",
)
@click.option(
    "--no-migrate",
    is_flag=True,
    help="Do not upgrade the schema (refuse to start unless it is current)",
)
def serve(
    database_url: str | None, host: str | None, port: int | None, dev: bool, no_migrate: bool
) -> None:
    """Serve the REST API (and, on SQLite, the outbox worker in-process)."""
    settings = _settings(database_url=database_url, host=host, port=port, dev_mode=dev or None)
    _serve(settings, migrate_first=not no_migrate)


def _require_current_schema(container: Any) -> None:
    from passgate.adapters.db import migrate as mig

    if not mig.is_current(container.engine):
        raise click.ClickException(
            f"the database schema is at {', '.join(mig.current(container.engine)) or 'none'}, "
            f"this version needs {', '.join(mig.heads())}: run `passgate migrate` first"
        )


def _serve(settings: Settings, *, migrate_first: bool, banner: str | None = None) -> None:
    import uvicorn

    from passgate.adapters.db import migrate as mig
    from passgate.logs import configure_logging
    from passgate.web.app import create_app
    from passgate.web.ws_server import PassgateWebSockets
    from passgate.worker.dispatcher import Dispatcher

    configure_logging(settings.log_level, settings.log_format)
    _require_secret(settings)
    try:
        settings.require_safe_bind()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    container = _container(settings)
    # Refuse to start with an expired, mismatched or non-chaining pass certificate.
    _run(lambda: container.pass_certificates)
    if migrate_first:
        mig.upgrade(container.engine)  # several processes may start at once: see upgrade()
    else:
        _require_current_schema(container)
    dispatcher = Dispatcher(container) if settings.run_worker_in_process else None
    if dispatcher is not None:
        dispatcher.start_thread()
    if banner:
        click.echo(banner)
    try:
        uvicorn.run(
            create_app(container),
            host=settings.host,
            port=settings.port,
            log_config=None,
            # Forwarded headers are judged by web.proxy against PASSGATE_TRUSTED_PROXIES.
            proxy_headers=False,
            ws=PassgateWebSockets,  # only large messages compressed (web.ws_server)
        )
    finally:
        if dispatcher is not None:
            dispatcher.stop()
        container.close()


@main.command()
@database_option
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit")
def worker(database_url: str | None, once: bool) -> None:
    """Deliver queued webhooks and Wallet pushes (APNs) from the outbox."""
    import signal

    from passgate.logs import configure_logging
    from passgate.worker.dispatcher import Dispatcher

    settings = _settings(database_url=database_url)
    configure_logging(settings.log_level, settings.log_format)
    _require_secret(settings)
    container = _container(settings)
    _require_current_schema(container)  # not the worker's job to migrate; fail at once
    dispatcher = Dispatcher(container)
    if once:
        total = 0
        while (handled := dispatcher.run_once()) > 0:
            total += handled
        click.echo(f"handled {total} outbox messages")
        return
    signal.signal(signal.SIGTERM, lambda *_: dispatcher.stop())
    signal.signal(signal.SIGINT, lambda *_: dispatcher.stop())
    dispatcher.run_forever()


@main.command("create-org")
@database_option
@click.argument("name")
@click.option("--slug", required=True, help="Short unique name, lowercase letters, digits, hyphens")
def create_org(database_url: str | None, name: str, slug: str) -> None:
    """Create an organization (operator)."""
    c = _container(_settings(database_url=database_url))
    org = _run(lambda: c.organizations.create(CLI_OPERATOR, name=name, slug=slug))
    click.echo(json.dumps({"id": org.id, "name": org.name, "slug": org.slug}))


@main.command("grant-subscription")
@database_option
@click.argument("org_id")
@click.option("--kind", default="apple_pass", show_default=True, type=click.Choice(["apple_pass"]))
@click.option(
    "--status",
    default="active",
    show_default=True,
    type=click.Choice(["active", "pending", "cancelled"]),
)
@click.option("--valid-from", default=None, help="ISO 8601 start (default now)")
@click.option("--valid-until", default=None, help="ISO 8601 end (default open-ended)")
def grant_subscription(
    database_url: str | None,
    org_id: str,
    kind: str,
    status: str,
    valid_from: str | None,
    valid_until: str | None,
) -> None:
    """Grant an organization a subscription (operator)."""
    c = _container(_settings(database_url=database_url))
    sub = _run(
        lambda: c.organizations.grant_subscription(
            CLI_OPERATOR,
            org_id,
            kind=kind,
            status=status,
            valid_from=_parse_time(valid_from, "--valid-from") or c.clock.now(),
            valid_until=_parse_time(valid_until, "--valid-until"),
        )
    )
    click.echo(
        json.dumps(
            {
                "id": sub.id,
                "kind": sub.kind,
                "status": sub.status,
                "valid_from": sub.valid_from.isoformat(),
                "valid_until": sub.valid_until.isoformat() if sub.valid_until else None,
            }
        )
    )


@main.command("create-api-key")
@database_option
@click.argument("org_id")
@click.option("--name", required=True, help="What the key is for")
@click.option(
    "--role", default="admin", show_default=True, type=click.Choice(["admin", "read_only"])
)
def create_api_key(database_url: str | None, org_id: str, name: str, role: str) -> None:
    """Create an organization API key (operator); prints the token once."""
    c = _container(_settings(database_url=database_url))
    created = _run(lambda: c.api_keys.create_for(CLI_OPERATOR, org_id, name=name, role=role))
    click.echo(json.dumps({"id": created.api_key.id, "token": created.token}))


@main.group("reader-groups")
def reader_groups() -> None:
    """Aliro reader groups: the keys devices trust; rotate, promote, retire (operator)."""


def _group_line(group: Any) -> str:
    return json.dumps(
        {
            "id": group.id,
            "group_identifier": group.group_identifier,
            "public_key": group.public_key,
            "state": group.state,
            "created_at": group.created_at.isoformat(),
        }
    )


@reader_groups.command("list")
@database_option
@click.argument("org_id")
def reader_groups_list(database_url: str | None, org_id: str) -> None:
    """One JSON line per reader group of the organization."""
    c = _container(_settings(database_url=database_url))
    for group in _run(lambda: c.reader_groups.list(CLI_OPERATOR, org_id)):
        click.echo(_group_line(group))


@reader_groups.command("rotate")
@database_option
@click.argument("org_id")
def reader_groups_rotate(database_url: str | None, org_id: str) -> None:
    """Step 1: a new group devices learn with their next pass update."""
    c = _container(_settings(database_url=database_url))
    made = _run(lambda: c.reader_groups.rotate(CLI_OPERATOR, org_id))
    click.echo(_group_line(made))


def _group_step(name: str, summary: str) -> None:
    """`reader-groups promote` and `retire`: one service call each, the same shape."""

    @reader_groups.command(name, help=summary)
    @database_option
    @click.argument("org_id")
    def step(database_url: str | None, org_id: str) -> None:
        c = _container(_settings(database_url=database_url))
        call = getattr(c.reader_groups, name)
        click.echo(_group_line(_run(lambda: call(CLI_OPERATOR, org_id))))


_group_step(
    "promote", "Step 2: readers move to the next group; devices keep trusting the previous one."
)
_group_step("retire", "Step 3: devices stop trusting the previous group.")


@main.command()
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def openapi(output: Path | None) -> None:
    """Print (or write) the OpenAPI document of REST API v1."""
    from passgate.web.app import create_app

    settings = _settings(dev_mode=True, database_url="sqlite://")
    doc = json.dumps(create_app(_container(settings)).openapi(), indent=2)
    if output is None:
        click.echo(doc)
    else:
        output.write_text(doc)


@main.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".passgate/demo"),
    show_default=True,
    help="Where the demo keeps its database, keys, readers and emulated devices",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Loopback address to serve on (the demo runs in development mode)",
)
@click.option("--port", default=8000, show_default=True, type=int, help="0: a free port")
@click.option(
    "--idp-port", default=8001, show_default=True, type=int, help="Development IdP; 0: a free port"
)
@click.option(
    "--scenario", is_flag=True, help="Run the whole story headless; exit 1 on a deviation"
)
def demo(data_dir: Path, host: str, port: int, idp_port: int, scenario: bool) -> None:
    """Passgate, the worker, the dev IdP, a local APNs receiver and reader agents, seeded."""
    from passgate.demo.run import run_demo
    from passgate.demo.stack import START_STEPS

    try:  # a fixed secret and a sign-in-as-anyone IdP: never on a shared network
        Settings(dev_mode=True, host=host).require_safe_bind()
    except ValueError:
        raise click.ClickException(
            f"the demo serves on a loopback address only, not {host} (it runs in "
            "development mode: a fixed server secret and an IdP that signs anyone in)"
        ) from None

    bar = click.progressbar(
        length=START_STEPS, label="starting the demo", file=sys.stderr, item_show_func=str
    )

    def progress(step: str) -> None:
        bar.update(1, step)
        if bar.pos >= START_STEPS:
            bar.render_finish()

    sys.exit(
        run_demo(
            data_dir, host, port, idp_port, scenario=scenario, echo=click.echo, progress=progress
        )
    )


# Area command groups.
for _group in (certs, devidp, reader, bench, backup, restore):
    main.add_command(_group)
main.add_command(sim)


if __name__ == "__main__":
    sys.exit(main())
