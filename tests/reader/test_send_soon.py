"""The hub's sends: in place when the connection takes the frames, in their own task when
it makes them wait (a reader not reading), never holding up the readers after it."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec

import pytest

from passgate.services import reader_hub
from passgate.services.reader_hub import ChannelClosed, Link, send_soon


class Channel:
    """A reader's connection whose writes wait while ``open`` is clear (a full socket)."""

    def __init__(self, *, blocked: bool = False, fails: Exception | None = None) -> None:
        self.sent: list[str] = []
        self.closed: list[int] = []
        self.open = asyncio.Event()
        if not blocked:
            self.open.set()
        self.fails = fails

    async def send_text(self, text: str) -> None:
        if self.fails is not None:
            raise self.fails
        await self.open.wait()
        self.sent.append(text)

    async def receive(self) -> str | bytes:
        raise ChannelClosed

    async def close(self, code: int) -> None:
        self.closed.append(code)


P = ParamSpec("P")


def run(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """An async test run on its own event loop (the suite has no async plugin)."""

    @functools.wraps(test)
    def sync(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return sync


def _link(channel: Channel) -> Link:
    return Link(channel, "rdr_1", "org_1", version=0)


@run
async def test_frames_the_connection_takes_go_out_at_once_with_no_task() -> None:
    channel = Channel()
    assert send_soon(_link(channel), ["a", "b"]) is None
    assert channel.sent == ["a", "b"]  # before the caller's turn of the loop ends


@run
async def test_a_waiting_send_finishes_in_its_own_task_and_keeps_the_order() -> None:
    channel = Channel(blocked=True)
    link = _link(channel)
    first = send_soon(link, ["1", "2"])
    assert first is not None and channel.sent == []
    second = send_soon(link, ["3"])  # the link is busy: it waits behind the first
    assert second is not None
    other = Channel()
    assert send_soon(_link(other), ["x"]) is None  # another reader is not held up
    assert other.sent == ["x"]
    channel.open.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert channel.sent == ["1", "2", "3"]
    assert channel.closed == []
    assert not link.lock.locked()


@run
async def test_a_send_that_waits_past_the_timeout_closes_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reader_hub, "SEND_TIMEOUT_S", 0.05)
    channel = Channel(blocked=True)
    link = _link(channel)
    task = send_soon(link, ["stuck"])
    assert task is not None
    await asyncio.wait_for(task, 5)
    assert channel.closed == [4408]
    assert channel.sent == []
    assert not link.lock.locked()  # the abandoned send gave the lock back
    channel.open.set()
    assert send_soon(link, ["later"]) is None  # the link is usable (it will close anyway)


@run
async def test_a_connection_already_gone_is_no_error() -> None:
    channel = Channel(fails=ChannelClosed())
    assert send_soon(_link(channel), ["a"]) is None
    assert channel.closed == []


@run
async def test_a_failing_send_closes_that_connection_only_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    channel = Channel(fails=ValueError("a bug"))
    with caplog.at_level(logging.ERROR, logger=reader_hub.__name__):
        task = send_soon(_link(channel), ["a"])
        assert task is not None
        await asyncio.wait_for(task, 5)
    assert channel.closed == [1011]
    assert "sending to reader rdr_1 failed" in caplog.text


@run
async def test_a_send_failing_after_it_waited_closes_the_connection() -> None:
    channel = Channel(blocked=True)
    link = _link(channel)
    task = send_soon(link, ["a"])
    assert task is not None
    channel.fails = ValueError("a bug")  # the next write (after the wait) fails
    channel.open.set()
    await asyncio.sleep(0)
    send_soon(link, ["b"])
    await asyncio.wait_for(task, 5)
    assert channel.sent == ["a"]


@run
async def test_cancelling_a_waiting_send_cancels_it_and_frees_the_link() -> None:
    channel = Channel(blocked=True)
    link = _link(channel)
    task = send_soon(link, ["a"])
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not link.lock.locked()


class Trickle(Channel):
    """A reader taking a large snapshot slowly: each write waits a little, then goes."""

    async def send_text(self, text: str) -> None:
        await asyncio.sleep(0.03)
        self.sent.append(text)


@run
async def test_a_slow_but_steady_reader_is_not_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The timeout counts from the last progress, not from the start of the send: ten
    parts at 30 ms each take longer than a 100 ms timeout, and all go out."""
    monkeypatch.setattr(reader_hub, "SEND_TIMEOUT_S", 0.1)
    channel = Trickle()
    task = send_soon(_link(channel), [f"part {i}" for i in range(10)])
    assert task is not None
    await asyncio.wait_for(task, 5)
    assert channel.sent == [f"part {i}" for i in range(10)]
    assert channel.closed == []
