"""`passgate certs ...`: pass signing certificates (development chain, configuration check)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from passgate.adapters.passcerts import configured_problems, write_dev_chain
from passgate.config import Settings
from passgate.proto.passkit import make_dev_chain

certs = click.Group("certs", help="Pass signing certificates.")


@certs.command("dev")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--pass-type-id", default=None, help="Default: PASSGATE_PASS_TYPE_IDENTIFIER")
@click.option("--team-id", default=None, help="Default: PASSGATE_TEAM_IDENTIFIER")
def dev(out_dir: Path, pass_type_id: str | None, team_id: str | None) -> None:
    """Make a development chain: root.pem, wwdr.pem, pass.pem, pass.key (mode 600)."""
    settings = Settings()
    chain = make_dev_chain(
        pass_type_identifier=pass_type_id or settings.pass_type_identifier,
        team_identifier=team_id or settings.team_identifier,
        now=datetime.now(UTC),
    )
    write_dev_chain(chain, out_dir)
    click.echo(f"wrote root.pem, wwdr.pem, pass.pem, pass.key to {out_dir}")
    click.echo("trust root.pem only in development; point PASSGATE_PASS_*_PATH at the others")


@certs.command("check")
def check() -> None:
    """Check the configured pass certificate; exit 1 listing every problem."""
    problems = configured_problems(Settings(), datetime.now(UTC))
    if problems:
        raise click.ClickException("; ".join(problems))
    click.echo("pass certificate OK")
