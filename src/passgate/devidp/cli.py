"""`passgate devidp`: run the development identity provider and manage its users."""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import ValidationError as SettingsError

from passgate.config import Settings
from passgate.devidp.users import load_users, new_user, save_users

users_option = click.option(
    "--users",
    "users_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("devidp-users.json"),
    show_default=True,
    help="JSON file of users (email, password hash, TOTP secret)",
)


def require_dev_mode(dev: bool) -> None:
    """The dev IdP signs anyone in who is in a local file: never outside development mode."""
    try:
        enabled = dev or Settings().dev_mode
    except SettingsError as exc:
        raise click.ClickException(
            "invalid configuration: " + "; ".join(e["msg"] for e in exc.errors())
        ) from exc
    if not enabled:
        raise click.ClickException(
            "the development identity provider runs only in development mode "
            "(set PASSGATE_DEV_MODE=1 or pass --dev)"
        )


@click.group()
def devidp() -> None:
    """Development OpenID Connect provider with a real TOTP step (dev mode only)."""


@devidp.command("add-user")
@users_option
@click.option("--username", required=True)
@click.option("--email", required=True)
@click.password_option()
def add_user(users_path: Path, username: str, email: str, password: str) -> None:
    """Add (or replace) a user; prints the TOTP enrolment URI."""
    users = load_users(users_path)
    user = new_user(username, email, password)
    users[username] = user
    save_users(users_path, users)
    import pyotp

    uri = pyotp.TOTP(user.totp_secret).provisioning_uri(name=email, issuer_name="Passgate dev")
    click.echo(f"added {username}; enrol your authenticator with: {uri}")


@devidp.command("serve")
@users_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=9000, show_default=True)
@click.option("--issuer", default=None, help="Issuer URL [default http://HOST:PORT]")
@click.option("--client-id", default="passgate", show_default=True)
@click.option("--client-secret", default=None, help="Optional; public PKCE client when unset")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    required=True,
    help="Allowed redirect URI, e.g. http://127.0.0.1:8000/sso/<org>/oidc/callback",
)
@click.option("--dev", is_flag=True, envvar="PASSGATE_DEV_MODE", help="Development mode")
def serve(
    users_path: Path,
    host: str,
    port: int,
    issuer: str | None,
    client_id: str,
    client_secret: str | None,
    redirect_uris: tuple[str, ...],
    dev: bool,
) -> None:
    """Serve the development IdP."""
    require_dev_mode(dev)
    import uvicorn

    from passgate.devidp.app import DevClient, create_devidp_app

    users = load_users(users_path)
    if not users:
        raise click.ClickException(f"no users in {users_path}; add one with `devidp add-user`")
    app = create_devidp_app(
        issuer=issuer or f"http://{host}:{port}",
        users=users,
        clients=[DevClient(client_id, redirect_uris, client_secret)],
    )
    click.echo(f"development IdP at {issuer or f'http://{host}:{port}'} ({len(users)} users)")
    uvicorn.run(app, host=host, port=port, log_config=None)
