"""`passgate sim ...`: the device emulator from the command line.

Each command loads the emulated world from the state directory, does one thing over
the public protocols and saves it again, so a story can be told one command at a time:

    passgate sim iphone alice-phone && passgate sim watch alice-watch --iphone alice-phone
    passgate sim login alice-phone alice && passgate sim add-pass alice-phone
    passgate sim tap alice-phone "Front door"
    passgate sim wave alice-phone "Front door"     # MotionSense (Bluetooth on after login)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from passgate.sim.emulator import DEFAULT_IPHONE, DEFAULT_WATCH, Emulator
from passgate.sim.home import Account, SimError, SimHome

DEFAULT_HOME = Path(".passgate/demo/sim")


@contextmanager
def _emulator(ctx: click.Context) -> Iterator[Emulator]:
    emulator = Emulator(SimHome(ctx.obj))
    try:
        yield emulator
    except SimError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        emulator.close()


def _do(fn: Callable[[Emulator], Any]) -> Any:
    with _emulator(click.get_current_context()) as emu:
        return fn(emu)


@click.group("sim")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_HOME,
    show_default=True,
    envvar="PASSGATE_SIM_HOME",
    help="State directory of the emulated devices [env PASSGATE_SIM_HOME]",
)
@click.pass_context
def sim(ctx: click.Context, home: Path) -> None:
    """Emulated iPhones (Wallet + the Passgate app) and Apple Watches."""
    ctx.obj = home


@sim.command()
@click.option("--server", default=None, help="Passgate base URL")
@click.option("--org", default=None, help="Organization slug the app signs in to")
@click.option("--trust-root", default=None, help="PEM root Wallet trusts for pass signatures")
@click.option("--push-inbox", default=None, help="APNs inbox file of the local receiver")
@click.option("--reader", "readers", multiple=True, help="DOOR=host:port of a reader agent")
@click.pass_context
def setup(
    ctx: click.Context,
    server: str | None,
    org: str | None,
    trust_root: str | None,
    push_inbox: str | None,
    readers: tuple[str, ...],
) -> None:
    """Point the emulator at a server, an IdP organization, a pass root and readers."""
    home = SimHome(ctx.obj)
    env = home.env()
    env.server = server or env.server
    env.org = org or env.org
    env.trust_root_pem = str(Path(trust_root).resolve()) if trust_root else env.trust_root_pem
    env.push_inbox = str(Path(push_inbox).resolve()) if push_inbox else env.push_inbox
    for item in readers:
        door, sep, address = item.partition("=")
        if not sep:
            raise click.BadParameter("use DOOR=host:port", param_hint="--reader")
        env.readers[door] = address
    home.save_env(env)
    click.echo(json.dumps(env.__dict__, indent=2, sort_keys=True))


@sim.command()
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True)
@click.option("--totp-secret", default=None, help="Base32 secret of the member's authenticator")
@click.pass_context
def account(ctx: click.Context, username: str, password: str, totp_secret: str | None) -> None:
    """Remember a person's IdP password and authenticator secret."""
    SimHome(ctx.obj).save_account(Account(username, password, totp_secret))
    click.echo(f"account {username} saved")


@sim.command()
@click.argument("username")
@click.pass_context
def totp(ctx: click.Context, username: str) -> None:
    """Print the current one-time code of USERNAME's authenticator."""
    try:
        click.echo(SimHome(ctx.obj).account(username).totp_now())
    except SimError as exc:
        raise click.ClickException(str(exc)) from exc


@sim.command()
@click.argument("name")
@click.option("--model", default=DEFAULT_IPHONE["model"], show_default=True)
@click.option("--ios", default=DEFAULT_IPHONE["ios"], show_default=True)
@click.option("--app", default=DEFAULT_IPHONE["app"], show_default=True, help="Passgate app")
def iphone(name: str, model: str, ios: str, app: str) -> None:
    """Make a new iPhone (it creates its own credential key)."""
    d = _do(lambda e: e.new_iphone(name, model=model, ios=ios, app=app))
    click.echo(f"{name}: iPhone {d.state.model}, iOS {ios}, app {app}, key {d.key_id[:16]}")


@sim.command()
@click.argument("name")
@click.option("--iphone", "phone", required=True, help="The iPhone it is paired with")
@click.option("--model", default=DEFAULT_WATCH["model"], show_default=True)
@click.option("--watchos", default=DEFAULT_WATCH["watchos"], show_default=True)
@click.option("--locked", is_flag=True, help="Start locked")
def watch(name: str, phone: str, model: str, watchos: str, locked: bool) -> None:
    """Make a new Apple Watch paired with an iPhone."""
    d = _do(lambda e: e.new_watch(name, iphone=phone, model=model, watchos=watchos, locked=locked))
    click.echo(f"{name}: Apple Watch paired with {phone}, {_lock_word(d.state.locked)}")


def _lock_word(locked: bool) -> str:
    return "locked" if locked else "unlocked"


@sim.command()
@click.argument("name")
def lock(name: str) -> None:
    """Lock a watch (a locked watch does not receive the pass, R9)."""
    _do(lambda e: e.set_locked(name, True))
    click.echo(f"{name}: locked")


@sim.command()
@click.argument("name")
def unlock(name: str) -> None:
    """Unlock a watch."""
    _do(lambda e: e.set_locked(name, False))
    click.echo(f"{name}: unlocked")


@sim.command()
@click.argument("name")
@click.option("--ios", default=None)
@click.option("--app", default=None, help="Passgate app version")
def update(name: str, ios: str | None, app: str | None) -> None:
    """Change an iPhone's iOS or Passgate app version."""
    d = _do(lambda e: e.set_versions(name, ios=ios, app=app))
    click.echo(f"{name}: iOS {d.state.os_version}, app {d.state.app_version}")


@sim.command()
@click.argument("iphone_name", metavar="IPHONE")
@click.argument("username")
@click.option("--skip-otp", is_flag=True, help="Skip the one-time code (single-factor login)")
def login(iphone_name: str, username: str, skip_otp: bool) -> None:
    """Sign in to the Passgate app on IPHONE through the organization's IdP (PKCE).

    The app then makes its own key and registers it (MotionSense), Bluetooth on.
    """
    mfa = _do(lambda e: e.sign_in(iphone_name, username, use_otp=not skip_otp))
    click.echo(f"{iphone_name}: signed in as {username} ({'MFA' if mfa else 'single-factor'})")
    state = SimHome(click.get_current_context().obj).device(iphone_name).state
    click.echo(f"{iphone_name}: app credential {state.app_credential_id}, Bluetooth on")


@sim.command("add-pass")
@click.argument("iphone_name", metavar="IPHONE")
def add_pass(iphone_name: str) -> None:
    """Add your Apple Pass on IPHONE (and its paired watch, if unlocked)."""
    result = _do(lambda e: e.add_pass(iphone_name))
    body = result.body
    click.echo(f"pass {body['pass_id']} ({body['status']}) added to {', '.join(result.added_to)}")
    if result.watch_skipped:
        click.echo(f"watch skipped ({result.watch_skipped}): {body['watch']['message']}")
    for d in body.get("replaced", []):
        click.echo(f"replaced: {d['kind']} {d['device_id']}")


@sim.command()
@click.argument("name")
@click.option("--wait", "wait_s", type=float, default=2.0, show_default=True)
@click.option("--force", is_flag=True, help="Ask the web service even without a push")
def sync(name: str, wait_s: float, force: bool) -> None:
    """Let NAME's Wallet react to pushes (or, with --force, ask for updates anyway)."""

    def run(e: Emulator) -> list[str]:
        return e.sync(name) if force else e.receive_pushes(name, wait_s=wait_s)

    updated = _do(run)
    click.echo(f"{name}: {len(updated)} pass(es) updated")
    _print_passes(name)


def _print_passes(name: str) -> None:
    for p in _do(lambda e: e.passes(name)):
        void = " VOIDED" if p.voided else ""
        click.echo(f"  {p.serial}  {p.organization}  status: {p.status}{void}")


@sim.command()
@click.argument("name", required=False)
@click.pass_context
def show(ctx: click.Context, name: str | None) -> None:
    """Devices and what their Wallets hold."""
    home = SimHome(ctx.obj)
    for d in home.devices():
        if name and d.name != name:
            continue
        s = d.state
        extra = (
            f"app {s.app_version}, {'signed in' if s.app_token else 'signed out'}, "
            f"app credential {s.app_credential_id or 'none'}, "
            f"Bluetooth {'on' if s.bluetooth else 'off'}"
            if s.kind == "iphone"
            else f"paired with {s.paired_with}, {_lock_word(s.locked)}"
        )
        click.echo(f"{s.name}: {s.kind} {s.model} OS {s.os_version}, {extra}")
        if home.env().trust_root_pem:
            _print_passes(s.name)


@sim.command()
@click.argument("name")
@click.argument("door")
def tap(name: str, door: str) -> None:
    """Hold NAME to DOOR's reader (NFC Tap to Unlock)."""
    _print_decision(_do(lambda e: e.tap(name, door)))


@sim.command()
@click.argument("name")
@click.argument("door")
def ble(name: str, door: str) -> None:
    """Try to open DOOR over Bluetooth with NAME's Apple Pass key (refused, R12)."""
    _print_decision(_do(lambda e: e.bluetooth(name, door)))


sim.add_command(ble, "bluetooth")


@sim.command()
@click.argument("iphone_name", metavar="IPHONE")
def logout(iphone_name: str) -> None:
    """Sign out of the Passgate app on IPHONE (its app credential is deleted)."""
    _do(lambda e: e.sign_out(iphone_name))
    click.echo(f"{iphone_name}: signed out, app credential deleted")


@sim.command("ble-on")
@click.argument("iphone_name", metavar="IPHONE")
def ble_on(iphone_name: str) -> None:
    """Switch Bluetooth on on IPHONE (MotionSense can run)."""
    _do(lambda e: e.set_bluetooth(iphone_name, True))
    click.echo(f"{iphone_name}: Bluetooth on")


@sim.command("ble-off")
@click.argument("iphone_name", metavar="IPHONE")
def ble_off(iphone_name: str) -> None:
    """Switch Bluetooth off on IPHONE (nothing opens by MotionSense)."""
    _do(lambda e: e.set_bluetooth(iphone_name, False))
    click.echo(f"{iphone_name}: Bluetooth off")


@sim.command()
@click.argument("iphone_name", metavar="IPHONE")
@click.argument("door")
def wave(iphone_name: str, door: str) -> None:
    """Wave IPHONE at DOOR's reader (MotionSense: the app credential over Bluetooth LE).

    With Bluetooth off (or the app signed out) nothing happens: exit status 1.
    """
    _print_decision(_do(lambda e: e.wave(iphone_name, door)))


def _print_decision(result: dict[str, Any]) -> None:
    verdict = "GRANTED" if result.get("granted") else "DENIED"
    flow = f" ({result['flow']})" if result.get("flow") else ""
    click.echo(f"{verdict}: {result.get('reason')}{flow}")
    if result.get("granted") and result.get("confirmed") is False:
        click.echo("warning: the reader's encrypted status did not confirm the grant", err=True)
    if not result.get("granted"):
        raise SystemExit(1)  # scripts can tell a denied attempt from an opened door
