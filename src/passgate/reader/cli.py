"""`passgate reader ...`: pair the agent, run it, fire the tamper input."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import click
import pydantic

from passgate.proto import link as wire
from passgate.reader.agent import ReaderAgent
from passgate.reader.runtime import SocketTransport
from passgate.reader.store import AgentStore
from passgate.reader.sync import SyncClient, pair
from passgate.reader.transport.emulated import device_request

CACHE = click.option(
    "--cache",
    "cache_path",
    envvar="PASSGATE_READER_CACHE",
    default="reader.db",
    show_default=True,
    help="The agent's SQLite file (identity, cache, event queue)",
)


@click.group("reader", help="The door reader agent.")
def reader() -> None:
    pass


@reader.command("pair")
@CACHE
@click.option("--server", required=True, envvar="PASSGATE_READER_SERVER", help="Server base URL")
@click.option("--code", required=True, help="The one-time pairing code from the API")
def pair_cmd(cache_path: str, server: str, code: str) -> None:
    """Pair with the server (generates this reader's keys)."""
    agent = ReaderAgent(AgentStore(cache_path))
    reader_id = pair(agent, server, code)
    click.echo(f"paired as {reader_id}")


@reader.command("run")
@CACHE
@click.option("--listen", default="127.0.0.1:0", show_default=True, help="Emulated-device socket")
@click.option("--firmware", default="passgate-agent", show_default=True)
@click.option("--model", default=None, help="Report this reader model to the server")
@click.option(
    "--fallback-server",
    "fallback",
    multiple=True,
    envvar="PASSGATE_READER_FALLBACK_SERVERS",
    help="Another base URL of the same deployment (repeatable; the environment variable "
    "takes space-separated URLs): when the link to one server fails or drops, the agent "
    "tries the next, starting with the URL it was paired with",
)
@click.option(
    "--transport",
    type=click.Choice(["socket", "pcsc", "nfcpy"]),
    default="socket",
    show_default=True,
)
@click.option(
    "--ble-motion-gpio",
    "motion_gpio",
    default=None,
    help="MotionSense over BlueZ (passgate[ble], unproven on hardware): the motion "
    "sensor's sysfs GPIO value file",
)
def run_cmd(
    cache_path: str,
    listen: str,
    firmware: str,
    model: str | None,
    transport: str,
    motion_gpio: str | None,
    fallback: tuple[str, ...],
) -> None:
    """Run the agent until SIGINT/SIGTERM (prints the device socket address first)."""
    asyncio.run(_run(cache_path, listen, firmware, model, transport, motion_gpio, list(fallback)))


async def _run(
    cache_path: str,
    listen: str,
    firmware: str,
    model: str | None,
    transport: str,
    motion_gpio: str | None = None,
    fallback: list[str] | None = None,
) -> None:
    for url in fallback or []:
        if not url.startswith(("http://", "https://")):
            raise click.BadParameter(
                f"{url!r} is not an http:// or https:// URL", param_hint="--fallback-server"
            )
    try:
        status = wire.ReaderStatus(firmware=firmware, model=model or None)
    except pydantic.ValidationError as exc:
        where = str(exc.errors()[0]["loc"][0])
        raise click.BadParameter(exc.errors()[0]["msg"], param_hint=f"--{where}") from None
    store = AgentStore(cache_path)
    agent = ReaderAgent(store)
    if agent.reader_id is None:
        raise click.ClickException(
            f"{cache_path} was never paired: run `passgate reader pair --server URL --code CODE "
            f"--cache {cache_path}` first"
        )
    client = SyncClient(agent, status=status, fallback_urls=fallback)
    agent.on_event = client.notify_event
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if transport == "socket":
        host, _, port = listen.rpartition(":")
        sock = SocketTransport(agent, host or "127.0.0.1", int(port))
        sock.start()
        click.echo(f"listening {sock.address[0]}:{sock.address[1]}")
        sys.stdout.flush()
    else:  # pragma: no cover - hardware transports
        loop.run_in_executor(None, _hardware_loop, agent, transport)
    if motion_gpio is not None:  # pragma: no cover - hardware (BlueZ and a motion sensor)
        try:
            from passgate.reader.transport import bluez
        except ImportError as exc:
            raise click.ClickException(
                "MotionSense over BlueZ needs dbus-fast: pip install 'passgate[ble]'"
            ) from exc
        ble_task = loop.create_task(bluez.serve(agent, bluez.gpio_motion(motion_gpio)))
        ble_task.add_done_callback(_report_ble_failure)
    await client.run(stop)


def _report_ble_failure(task: asyncio.Task[None]) -> None:  # pragma: no cover - hardware
    if not task.cancelled() and task.exception() is not None:
        click.echo(f"MotionSense over BlueZ stopped: {task.exception()}", err=True)


def _hardware_loop(agent: ReaderAgent, transport: str) -> None:  # pragma: no cover - hardware
    from passgate.proto.aliro.polling import ecp_frame
    from passgate.reader.agent import CardGone

    group = agent.store.get("group_identifier")
    frame = ecp_frame(bytes.fromhex(group)) if isinstance(group, str) else None
    frontend = None
    if transport == "nfcpy":
        from passgate.reader.transport.nfcpy import open_frontend

        frontend = open_frontend()
    while True:
        card: Any
        if transport == "pcsc":
            from passgate.reader.transport.pcsc import wait_for_card

            card = wait_for_card()
        else:
            from passgate.reader.transport.nfcpy import wait_for_tag

            card = wait_for_tag(frontend, frame)
        try:
            agent.tap(card)
        except CardGone:
            continue


@reader.command("tamper")
@click.option("--address", required=True, help="host:port printed by `passgate reader run`")
def tamper_cmd(address: str) -> None:
    """Fire the tamper input of a running agent (simulated switch)."""
    host, _, port = address.rpartition(":")
    click.echo(device_request((host, int(port)), b"T"))
