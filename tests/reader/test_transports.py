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


def test_pcsc_announce_sends_the_ecp_frame_through_the_acr122u_escape() -> None:
    from passgate.proto.aliro.polling import ecp_frame
    from passgate.reader.transport.pcsc import announce, ecp_escape

    frame = ecp_frame(bytes(range(16)))
    conn = FakePcsc(([0xD5, 0x43, 0x01], 0x90, 0x00))  # PN532: InCommunicateThru timed out
    assert announce(conn, frame)
    assert bytes(conn.sent[0]) == bytes.fromhex("ff000000") + bytes([len(frame) + 2]) + (
        b"\xd4\x42" + frame
    )
    assert ecp_escape(frame)[5:7] == b"\xd4\x42"
    assert not announce(FakePcsc(OSError("no escape")), frame)


def test_nfcpy_announce_uses_the_chipsets_raw_frame_command() -> None:
    from passgate.proto.aliro.polling import ecp_frame
    from passgate.reader.transport.nfcpy import announce

    sent: list[bytes] = []

    class Chipset:
        def in_communicate_thru(self, data: bytes, timeout: float) -> bytes:
            sent.append(data)
            raise TimeoutError("no answer to ECP, as expected")

    class Device:
        chipset = Chipset()

    class Frontend:
        device = Device()

    frame = ecp_frame(bytes(16))
    assert announce(Frontend(), frame) and sent == [frame]
    assert not announce(object(), frame)  # a front end without raw frames


def test_gatt_stream_splits_messages_to_the_mtu_and_hands_writes_back() -> None:
    from passgate.proto import motionsense as ms
    from passgate.reader.transport.ble import FramedLink, GattStream

    sent: list[bytes] = []
    stream = GattStream(sent.append, mtu=23)
    link = FramedLink(stream)
    stream.subscribe()
    answer = ms.app_response(b"\x01" * 40 + b"\x90\x00")
    for i in range(0, len(answer), 7):  # the app's writes, in pieces
        stream.written(answer[i : i + 7])
    command = b"\x80\x80\x00\x00" + bytes(100)
    assert link.transceive(command) == b"\x01" * 40 + b"\x90\x00"
    assert all(len(chunk) <= 20 for chunk in sent)
    assert b"".join(sent) == ms.reader_apdu(command)


def test_gatt_stream_without_a_listener_or_an_answer_means_the_app_is_gone() -> None:
    from passgate.reader.transport.ble import GattStream

    stream = GattStream(lambda _: None, timeout_s=0.01)
    with pytest.raises(CardGone):
        stream.send(b"\x01")  # nobody subscribed
    stream.subscribe()
    with pytest.raises(CardGone):
        stream.receive()  # no write came
    stream.written(b"stale")
    stream.reset()
    stream.unsubscribed()
    with pytest.raises(CardGone):
        stream.receive()  # the disconnect, not the stale write
    with pytest.raises(ValueError):
        GattStream(lambda _: None, mtu=22)
