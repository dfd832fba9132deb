"""The local APNs receiver: APNs answers, failure injection, subscribers, and robustness.

Requests are sent with a raw h2 client over a plain socket so that malformed requests
(which a polite client library would refuse to send) reach the server.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.domain.errors import ValidationError
from passgate.proto.apns import make_provider_token
from passgate.sim.apns_receiver import ApnsReceiver, Delivery, ReceiverThread

TOPIC = "pass.com.example.door"
TOKEN = "ab" * 32
KEY = ec.derive_private_key(987654321, ec.SECP256R1())


def good_headers(token: str = TOKEN, **extra: str) -> list[tuple[str, str]]:
    """A valid push request's headers; ``extra`` replaces or adds apns-* headers."""
    base = {"apns-topic": TOPIC, "apns-push-type": "background", "apns-priority": "5"}
    base.update(extra)
    return [
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "localhost"),
        (":path", f"/3/device/{token}"),
        *base.items(),
    ]


def request(
    port: int, headers: list[tuple[str, str]], body: bytes = b"{}"
) -> tuple[int, dict[str, str], bytes]:
    """Send one HTTP/2 request and return (status, headers, body)."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        conn.initiate_connection()
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(stream_id, headers, end_stream=not body)
        if body:
            for start in range(0, len(body), 16384):
                chunk = body[start : start + 16384]
                conn.send_data(stream_id, chunk, end_stream=start + 16384 >= len(body))
        sock.sendall(conn.data_to_send())
        status, answer, data = 0, {}, bytearray()
        while True:
            raw = sock.recv(65536)
            if not raw:
                raise ConnectionError("server closed the connection")
            for event in conn.receive_data(raw):
                if isinstance(event, h2.events.ResponseReceived):
                    answer = {k.decode(): v.decode() for k, v in event.headers}
                    status = int(answer[":status"])
                elif isinstance(event, h2.events.DataReceived):
                    data += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    return status, answer, bytes(data)
            sock.sendall(conn.data_to_send())


def reason(body: bytes) -> str:
    return str(json.loads(body)["reason"])


@pytest.fixture
def rt() -> Iterator[ReceiverThread]:
    with ReceiverThread() as thread:
        yield thread


def test_accepts_a_push_and_hands_it_to_the_subscriber(rt: ReceiverThread) -> None:
    rt.subscribe(TOKEN)
    status, headers, body = request(rt.port, good_headers(TOKEN.upper()))
    assert status == 200 and body == b""
    delivery = rt.wait_for_push(TOKEN, timeout=5)
    assert isinstance(delivery, Delivery)
    assert (delivery.token, delivery.topic, delivery.body) == (TOKEN, TOPIC, b"{}")
    assert delivery.apns_id == headers["apns-id"]
    assert delivery.received_at > 0
    assert rt.deliveries() == [delivery]


def test_echoes_the_callers_apns_id(rt: ReceiverThread) -> None:
    apns_id = "123e4567-e89b-12d3-a456-426614174000"
    status, headers, _ = request(rt.port, good_headers(**{"apns-id": apns_id}))
    assert status == 200 and headers["apns-id"] == apns_id


def test_wait_for_push_times_out(rt: ReceiverThread) -> None:
    with pytest.raises(TimeoutError):
        rt.wait_for_push("cd" * 32, timeout=0.05)


def test_unregistered_token_gets_410_with_timestamp(rt: ReceiverThread) -> None:
    rt.mark_unregistered(TOKEN)
    status, _, body = request(rt.port, good_headers())
    assert status == 410
    answer = json.loads(body)
    assert answer["reason"] == "Unregistered" and isinstance(answer["timestamp"], int)
    rt.register(TOKEN)  # registering again revives it
    assert request(rt.port, good_headers())[0] == 200


def test_fail_next_then_recover(rt: ReceiverThread) -> None:
    rt.fail_next(2)
    rt.fail_next(1, status=429, reason="TooManyRequests")
    answers = [request(rt.port, good_headers()) for _ in range(4)]
    assert [(s, reason(b) if b else None) for s, _, b in answers] == [
        (503, "ServiceUnavailable"),
        (503, "ServiceUnavailable"),
        (429, "TooManyRequests"),
        (200, None),
    ]
    assert len(rt.deliveries()) == 1


@pytest.mark.parametrize(
    ("headers", "body", "status", "why"),
    [
        ([(":method", "GET"), *good_headers()[1:]], b"", 405, "MethodNotAllowed"),
        (
            [*good_headers()[:3], (":path", "/3/devices/x"), *good_headers()[4:]],
            b"{}",
            404,
            "BadPath",
        ),
        (good_headers(token=""), b"{}", 400, "MissingDeviceToken"),
        (good_headers(token="zz" * 32), b"{}", 400, "BadDeviceToken"),
        (good_headers(token="ab" * 20), b"{}", 400, "BadDeviceToken"),
        ([h for h in good_headers() if h[0] != "apns-topic"], b"{}", 400, "MissingTopic"),
        ([*good_headers(), ("apns-topic", "other.topic")], b"{}", 400, "DuplicateHeaders"),
        (good_headers(**{"apns-priority": "7"}), b"{}", 400, "BadPriority"),
        (good_headers(**{"apns-expiration": "soon"}), b"{}", 400, "BadExpirationDate"),
        (good_headers(**{"apns-id": "not-a-uuid"}), b"{}", 400, "BadMessageId"),
        (good_headers(), b"", 400, "PayloadEmpty"),
        (good_headers(), b"{not json", 400, "BadPayload"),
        (good_headers(), b"[1, 2]", 400, "BadPayload"),
        (good_headers(), b"\xff\xfe\x00", 400, "BadPayload"),
        (good_headers(), b'{"a": "' + b"x" * 5000 + b'"}', 413, "PayloadTooLarge"),
    ],
)
def test_malformed_requests_get_4xx(
    rt: ReceiverThread, headers: list[tuple[str, str]], body: bytes, status: int, why: str
) -> None:
    got, _, answer = request(rt.port, headers, body)
    assert (got, reason(answer)) == (status, why)
    assert rt.deliveries() == []
    assert request(rt.port, good_headers())[0] == 200  # and the server still serves


def test_invalid_push_type(rt: ReceiverThread) -> None:
    headers = [(k, v) for k, v in good_headers() if k != "apns-push-type"]
    got, _, answer = request(rt.port, [*headers, ("apns-push-type", "banana")])
    assert (got, reason(answer)) == (400, "InvalidPushType")


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def test_garbage_bytes_close_only_that_connection() -> None:
    junks = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x00" * 100,
        PREFACE + b"\x00\x00\x04\x00\x00\x00\x00\x00\x00" + b"data",  # DATA on stream 0
        PREFACE
        + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
        + b"\x00\x00\x05\x01\x05\x00\x00\x00\x01junk!",
        # Announces a 16 MiB frame and never sends it: closed by the idle timeout.
        PREFACE + b"\xff" * 64,
    ]
    with ReceiverThread(ApnsReceiver(idle_timeout_s=0.3)) as rt:
        for junk in junks:
            with socket.create_connection(("127.0.0.1", rt.port), timeout=5) as sock:
                sock.sendall(junk)
                while sock.recv(65536):
                    pass  # the server answers (GOAWAY) and closes; reading to EOF proves it
        assert request(rt.port, good_headers())[0] == 200
        assert rt.deliveries()[0].token == TOKEN


@settings(max_examples=60, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(
            [
                "apns-topic",
                "apns-priority",
                "apns-push-type",
                "apns-expiration",
                "apns-id",
                "authorization",
            ]
        ),
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
    ),
    body=st.binary(max_size=64),
)
def test_fuzzed_requests_get_an_apns_answer(
    fuzz_rt: ReceiverThread, headers: dict[str, str], body: bytes
) -> None:
    base = [h for h in good_headers() if h[0] not in headers]
    status, _, answer = request(fuzz_rt.port, [*base, *headers.items()], body)
    assert status == 200 or 400 <= status < 500
    if status != 200:
        assert isinstance(reason(answer), str)


@pytest.fixture(scope="module")
def fuzz_rt() -> Iterator[ReceiverThread]:
    with ReceiverThread() as thread:
        yield thread


def test_strict_tokens_and_topic_binding() -> None:
    with ReceiverThread(ApnsReceiver(accept_unknown_tokens=False)) as rt:
        assert reason(request(rt.port, good_headers())[2]) == "BadDeviceToken"
        rt.register(TOKEN, topic="pass.com.example.other")
        status, _, body = request(rt.port, good_headers())
        assert (status, reason(body)) == (400, "DeviceTokenNotForTopic")
        rt.register(TOKEN, topic=TOPIC)
        assert request(rt.port, good_headers())[0] == 200
        with pytest.raises(ValidationError):
            rt.register("nope")


def test_provider_token_checks() -> None:
    receiver = ApnsReceiver(provider_key=KEY.public_key(), team_id="TEAM123456")
    now = int(time.time())

    def bearer(team: str, issued_at: int, key: ec.EllipticCurvePrivateKey = KEY) -> str:
        jwt = make_provider_token(
            team_id=team, key_id="KEY1234567", private_key=key, issued_at=issued_at
        )
        return f"bearer {jwt}"

    cases = [
        ([], "MissingProviderToken"),
        ([("authorization", "bearer")], "MissingProviderToken"),
        ([("authorization", "bearer not.a.token")], "InvalidProviderToken"),
        ([("authorization", bearer("TEAM123456", now - 7200))], "ExpiredProviderToken"),
        ([("authorization", bearer("OTHERTEAM1", now))], "InvalidProviderToken"),
        (
            [
                (
                    "authorization",
                    bearer("TEAM123456", now, ec.derive_private_key(5, ec.SECP256R1())),
                )
            ],
            "InvalidProviderToken",
        ),
    ]
    with ReceiverThread(receiver) as rt:
        for extra, why in cases:
            status, _, body = request(rt.port, [*good_headers(), *extra])
            assert (status, reason(body)) == (403, why)
        assert (
            request(rt.port, [*good_headers(), ("authorization", bearer("TEAM123456", now))])[0]
            == 200
        )
        assert "authorization" not in rt.deliveries()[0].headers


def test_listener_and_queue_in_the_receivers_loop() -> None:
    async def main() -> list[Delivery]:
        receiver = ApnsReceiver()
        seen: list[Delivery] = []
        receiver.add_listener(seen.append)
        queue = receiver.subscribe(TOKEN)
        port = await receiver.start()
        try:
            answer = await asyncio.to_thread(request, port, good_headers())
            assert answer[0] == 200
            got = await asyncio.wait_for(queue.get(), 5)
            assert seen == [got]
        finally:
            await receiver.stop()
        return seen

    assert len(asyncio.run(main())) == 1


def test_many_streams_on_one_connection_with_flow_control() -> None:
    # 300 requests multiplexed on one connection; every 400 answer carries a body, so the
    # server must respect the client's flow-control window (kept small here).
    with ReceiverThread() as rt:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        with socket.create_connection(("127.0.0.1", rt.port), timeout=5) as sock:
            conn.initiate_connection()
            conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 8})
            ids = []
            for i in range(300):
                sid = conn.get_next_available_stream_id()
                ids.append(sid)
                conn.send_headers(
                    sid, good_headers(token="zz" * 32 if i % 2 else f"{i:064x}"), end_stream=False
                )
                conn.send_data(sid, b"{}", end_stream=True)
            sock.sendall(conn.data_to_send())
            bodies: dict[int, bytearray] = {sid: bytearray() for sid in ids}
            ended: set[int] = set()
            while len(ended) < len(ids):
                raw = sock.recv(65536)
                assert raw, "server closed early"
                for event in conn.receive_data(raw):
                    if isinstance(event, h2.events.DataReceived):
                        bodies[event.stream_id] += event.data
                        conn.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        ended.add(event.stream_id)
                sock.sendall(conn.data_to_send())
        failed = [json.loads(bytes(bodies[sid]))["reason"] for sid in ids[1::2]]
        assert failed == ["BadDeviceToken"] * 150
        assert len(rt.deliveries()) == 150


def test_receiver_thread_that_cannot_bind_cleans_up(rt: ReceiverThread) -> None:
    second = ReceiverThread(port=rt.port)
    with pytest.raises(OSError):
        second.start()
    with pytest.raises(RuntimeError):
        second.deliveries()
    second.stop()  # idempotent
