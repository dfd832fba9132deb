"""The PC/SC and nfcpy adapters' logic against fake card connections (no hardware)."""

from __future__ import annotations

import pytest

from passgate.reader.agent import CardGone
from passgate.reader.transport.nfcpy import NfcpyCard
from passgate.reader.transport.pcsc import PcscCard


class FakePcsc:
    def __init__(self, answer: tuple[list[int], int, int] | Exception) -> None:
        self.answer = answer
        self.sent: list[list[int]] = []

    def transmit(self, apdu: list[int]) -> tuple[list[int], int, int]:
        self.sent.append(apdu)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class FakeTag:
    def __init__(self, answer: bytes | Exception) -> None:
        self.answer = answer
        self.timeouts: list[float] = []

    def transceive(self, data: bytes, timeout: float = 1.0) -> bytes:
        self.timeouts.append(timeout)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_pcsc_joins_data_and_status_word() -> None:
    conn = FakePcsc(([0xCA, 0xFE], 0x90, 0x00))
    assert PcscCard(conn).transmit(b"\x00\xa4\x04\x00") == b"\xca\xfe\x90\x00"
    assert conn.sent == [[0x00, 0xA4, 0x04, 0x00]]


@pytest.mark.parametrize(
    "answer", [OSError("card removed"), ([], 0x190, 0x00), ([], 0x90, -1), ValueError("bad")]
)
def test_pcsc_failures_mean_the_card_is_gone(
    answer: tuple[list[int], int, int] | Exception,
) -> None:
    with pytest.raises(CardGone):
        PcscCard(FakePcsc(answer)).transmit(b"\x00")


def test_nfcpy_passes_whole_apdus_with_its_timeout() -> None:
    tag = FakeTag(b"\x01\x02\x90\x00")
    assert NfcpyCard(tag, timeout_s=0.5).transmit(b"\x00") == b"\x01\x02\x90\x00"
    assert tag.timeouts == [0.5]


@pytest.mark.parametrize("answer", [b"", b"\x90", OSError("tag lost"), TimeoutError()])
def test_nfcpy_failures_mean_the_card_is_gone(answer: bytes | Exception) -> None:
    with pytest.raises(CardGone):
        NfcpyCard(FakeTag(answer)).transmit(b"\x00")
