"""The demo's moving parts, each in a background thread of one process.

Passgate itself (uvicorn), the outbox worker, the development IdP (uvicorn), a local
APNs receiver (HTTP/2) whose pushes land in the emulator's inbox file, and one reader
agent per seeded door, serving the emulated radio on a loopback socket.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn

from passgate.proto import link as wire
from passgate.reader.agent import ReaderAgent
from passgate.reader.runtime import SocketTransport
from passgate.reader.store import AgentStore
from passgate.reader.sync import SyncClient, pair


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], bool], what: str, limit_s: float = 20.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}")
        time.sleep(0.02)


class ServerThread:
    """An ASGI app served by uvicorn in a daemon thread."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            ws="websockets-sansio",
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        wait_for(lambda: self.server.started or not self._thread.is_alive(), "server start")
        if not self.server.started:
            raise RuntimeError("a demo server did not start (is its port free?)")

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)


class ShiftedClock:
    """The reader's clock; the scenario moves it forward to show the staleness limit."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


class DemoReader:
    """A reader agent: paired once, its server link in an asyncio loop, a device socket."""

    def __init__(self, door: str, cache_path: str, host: str = "127.0.0.1") -> None:
        self.door = door
        self.clock = ShiftedClock()
        self.agent = ReaderAgent(AgentStore(cache_path), clock=self.clock)
        self.transport = SocketTransport(self.agent, host, 0)
        self._link: tuple[asyncio.AbstractEventLoop, asyncio.Event, threading.Thread] | None = None

    @property
    def address(self) -> str:
        return f"{self.transport.address[0]}:{self.transport.address[1]}"

    @property
    def paired(self) -> bool:
        return self.agent.reader_id is not None

    def pair(self, server: str, code: str) -> None:
        pair(self.agent, server, code)

    def start(self) -> None:
        self.transport.start()
        self.start_link()

    def start_link(self) -> None:
        client = SyncClient(
            self.agent, status=wire.ReaderStatus(firmware="2.1.4", model="reader_pro_2_1")
        )
        self.agent.on_event = client.notify_event
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()

        def main() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(client.run(stop))

        thread = threading.Thread(target=main, name=f"reader-{self.door}", daemon=True)
        thread.start()
        self._link = (loop, stop, thread)

    def stop_link(self) -> None:
        """Cut the reader off the network (it keeps deciding from its cache)."""
        if self._link is None:
            return
        loop, stop, thread = self._link
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
        self._link = None
        self.agent.on_event = None

    def stop(self) -> None:
        self.stop_link()
        self.transport.close()
        self.agent.store.close()
