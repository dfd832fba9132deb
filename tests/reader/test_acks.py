"""The agent's applied reports, coalesced (reader.sync.Acks): the latest version, at most
once per delay, none after the connection ended."""

from __future__ import annotations

import asyncio

from passgate.reader.sync import Acks

DELAY = 0.05


def _acks() -> tuple[Acks, list[int]]:
    """Acks whose reports land in the list returned."""
    sent: list[int] = []

    async def send(version: int) -> None:
        sent.append(version)

    return Acks(send, DELAY), sent


def test_versions_applied_within_the_delay_go_as_one_report_of_the_latest() -> None:
    async def main() -> list[int]:
        acks, sent = _acks()
        for version in (11, 12, 13):
            acks.applied(version)
        assert sent == []  # nothing before the delay
        await asyncio.sleep(DELAY * 4)
        assert sent == [13]
        acks.applied(14)  # a later change: its own report, one delay later
        await asyncio.sleep(DELAY * 4)
        return sent

    assert asyncio.run(main()) == [13, 14]


def test_a_report_still_waiting_when_the_connection_ends_is_not_sent() -> None:
    async def main() -> list[int]:
        acks, sent = _acks()
        acks.applied(21)
        acks.cancel()
        await asyncio.sleep(DELAY * 4)
        return sent

    assert asyncio.run(main()) == []
