"""`passgate demo` (interactive) and `passgate demo --scenario` (headless story)."""

from __future__ import annotations

import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from passgate.demo.services import free_port
from passgate.demo.stack import DemoStack, pick_ports
from passgate.domain.errors import PreconditionFailed
from passgate.services.seed import DEMO_SLUG


def _passgate_command() -> str:
    """How to call this installation's `passgate` from here (it is not on PATH)."""
    exe = Path(sys.executable).parent / "passgate"
    if not exe.exists():
        return "passgate"
    try:
        return str(exe.relative_to(Path.cwd()))
    except ValueError:
        return str(exe)


def banner(stack: DemoStack, data_dir: Path) -> str:
    from passgate.sim.cli import DEFAULT_HOME

    default = stack.sim_home.root == DEFAULT_HOME
    exe = _passgate_command()
    sim = f"{exe} sim" if default else f"{exe} sim --home {stack.sim_home.root}"
    base = stack.base_url
    p = stack.passwords
    return "\n".join(
        [
            "",
            "Passgate demo: organization Acme Corp (slug acme), SSO with MFA through the dev IdP",
            f"  Dashboard:  {base}/dashboard   (organization: {DEMO_SLUG})",
            f"  API docs:   {base}/api/v1/docs",
            f"  API token:  stored in {data_dir / 'api-token'}",
            f"  Dev IdP:    {stack.idp_url}",
            "  Logins (password, then the one-time code from the authenticator):",
            f"    admin   ada   / {p['ada']}    code: {sim} totp ada    (the dashboard)",
            f"    member  alice / {p['alice']}    code: {sim} totp alice  (her own pages only)",
            "  Try the member's devices (the emulator speaks only the public protocols):",
            f"    {sim} iphone alice-phone",
            f"    {sim} watch alice-watch --iphone alice-phone --locked",
            f"    {sim} login alice-phone alice",
            f"    {sim} add-pass alice-phone          # watch skipped: it is locked (R9)",
            f"    {sim} unlock alice-watch && {sim} add-pass alice-phone",
            f'    {sim} tap alice-phone "Front door"  # granted',
            f"    {sim} tap alice-watch Lab           # denied: tamper protection off (R13)",
            f'    {sim} ble alice-phone "Front door"  # denied: unsupported_method (R12)',
            f"    {sim} iphone alice-new-phone && {sim} login alice-new-phone alice",
            f"    {sim} add-pass alice-new-phone      # the old iPhone and its watch are replaced",
            f"    {sim} sync alice-phone              # after the push: the old copy is voided",
            f"    {sim} show",
            "  Stop with Ctrl-C.",
            "",
        ]
    )


def _require_free(host: str, port: int, option: str) -> None:
    with socket.socket() as probe:
        # As the servers bind: a port left in TIME_WAIT by the last demo is free to use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PreconditionFailed(
                f"{host}:{port} is in use ({exc.strerror}); is a demo running already? "
                f"{option} 0 picks a free port",
                code="port_in_use",
            ) from exc


def run_demo(
    data_dir: Path,
    host: str,
    port: int,
    idp_port: int,
    *,
    scenario: bool,
    echo: Callable[[str], None],
    progress: Callable[[str], None] | None = None,
) -> int:
    """Start everything; interactive: serve until a signal; scenario: run it, return 0/1."""
    if scenario and port == 0:
        port, idp_port = pick_ports(host)  # a headless run must not meet a running demo
    port, idp_port = (p if p else free_port(host) for p in (port, idp_port))
    for what, number in (("--port", port), ("--idp-port", idp_port)):
        _require_free(host, number, what)
    stack = DemoStack(data_dir=data_dir, host=host, port=port, idp_port=idp_port)
    try:
        stack.start(progress)
        if scenario:
            from passgate.demo.scenario import run_scenario

            return run_scenario(stack, echo)
        echo(banner(stack, data_dir))
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        return 0
    finally:
        stack.stop()
