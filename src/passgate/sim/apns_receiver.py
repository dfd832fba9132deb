"""A local APNs provider endpoint over HTTP/2 (h2), for tests, the demo and the emulator.

It answers like Apple's provider API for the requests Passgate sends (POST
/3/device/{token}) and hands every accepted push to whoever listens for that token, which
is how emulated iPhones "receive" pushes. Failure injection (``fail_next``) and token
states (``mark_unregistered``) let tests drive every branch of the client.

State is touched only from the receiver's event loop; ``ReceiverThread`` runs one in a
background thread and marshals calls into it for synchronous callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, TypeVar

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from cryptography.hazmat.primitives.asymmetric import ec

from passgate.domain.errors import ValidationError
from passgate.proto.apns import (
    PRIORITIES,
    PUSH_TYPES,
    ProviderTokenError,
    is_valid_push_token,
    validate_topic,
    verify_provider_token,
)

MAX_PAYLOAD: Final = 4096
MAX_STREAMS: Final = 1000
_PREFIX: Final = "/3/device/"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One push the receiver accepted (answered 200)."""

    token: str
    topic: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    apns_id: str
    tls: bool = False
    client_cert: bool = False


@dataclass(slots=True)
class _Stream:
    headers: list[tuple[str, str]]
    body: bytearray = field(default_factory=bytearray)
    too_large: bool = False


@dataclass(frozen=True, slots=True)
class _Peer:
    tls: bool
    client_cert: bool


class ApnsReceiver:
    """An HTTP/2 server that behaves like the APNs provider API.

    ``provider_key`` turns on token auth (every request needs a valid ES256 bearer token,
    from ``team_id`` if given); ``require_client_cert`` needs a verified TLS client
    certificate (the SSL context must then ask for one). Well-formed tokens never seen
    before are accepted unless ``accept_unknown_tokens`` is False, in which case only
    tokens from ``register``/``subscribe`` are. A connection silent for
    ``idle_timeout_s`` seconds is closed.
    """

    def __init__(
        self,
        *,
        provider_key: ec.EllipticCurvePublicKey | None = None,
        team_id: str | None = None,
        require_client_cert: bool = False,
        accept_unknown_tokens: bool = True,
        idle_timeout_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._idle_timeout_s = idle_timeout_s
        self.deliveries: list[Delivery] = []
        self.requests_seen = 0
        self.connections_accepted = 0
        self._provider_key = provider_key
        self._team_id = team_id
        self._require_client_cert = require_client_cert
        self._accept_unknown = accept_unknown_tokens
        self._clock = clock
        self._registered: dict[str, str | None] = {}
        self._unregistered: dict[str, int] = {}
        self._queues: dict[str, asyncio.Queue[Delivery]] = {}
        self._listeners: list[Callable[[Delivery], None]] = []
        self._failures: list[tuple[int, str]] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- control -------------------------------------------------------------------------

    def register(self, token: str, topic: str | None = None) -> None:
        """Make ``token`` known; with ``topic``, pushes for other topics are refused."""
        if not is_valid_push_token(token):
            raise ValidationError("token must be 64 to 200 hex characters", field="token")
        self._registered[token.lower()] = topic
        self._unregistered.pop(token.lower(), None)

    def subscribe(self, token: str) -> asyncio.Queue[Delivery]:
        """Register ``token`` and return the queue its accepted pushes are put on."""
        key = token.lower()
        if key not in self._registered:
            self.register(key)
        return self._queues.setdefault(key, asyncio.Queue())

    def add_listener(self, callback: Callable[[Delivery], None]) -> None:
        """Call ``callback`` (in the receiver's loop) for every accepted push."""
        self._listeners.append(callback)

    def mark_unregistered(self, token: str) -> None:
        """From now on answer 410 Unregistered for ``token`` (the app or pass was removed)."""
        self._unregistered[token.lower()] = int(self._clock() * 1000)

    def fail_next(self, n: int, status: int = 503, reason: str = "ServiceUnavailable") -> None:
        """Answer the next ``n`` requests with ``status`` and ``reason``, whatever they are."""
        self._failures.extend([(status, reason)] * n)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> int:
        """Listen and return the bound port. A given SSL context is set to offer only h2."""
        if ssl_context is not None:
            ssl_context.set_alpn_protocols(["h2"])
        self._server = await asyncio.start_server(self._on_connect, host, port, ssl=ssl_context)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    # -- HTTP/2 --------------------------------------------------------------------------

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        ssl_object = writer.get_extra_info("ssl_object")
        peer = _Peer(
            tls=ssl_object is not None,
            client_cert=ssl_object is not None and bool(writer.get_extra_info("peercert")),
        )
        conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        # Advertised from the first SETTINGS frame (not as a later update) so a client that
        # opens many streams before our settings are acknowledged is not refused.
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_STREAMS,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: conn.DEFAULT_MAX_HEADER_LIST_SIZE,
            },
        )
        conn.initiate_connection()
        streams: dict[int, _Stream] = {}
        pending: dict[int, bytes] = {}
        try:
            writer.write(conn.data_to_send())
            while True:
                # h2 buffers a frame until it is complete before checking its length, so a
                # peer announcing a huge frame would hold the connection open: time it out.
                data = await asyncio.wait_for(reader.read(65536), self._idle_timeout_s)
                if not data:
                    break
                try:
                    events = conn.receive_data(data)
                    for event in events:
                        self._on_event(conn, event, streams, pending, peer)
                except h2.exceptions.ProtocolError:
                    # Garbage from the peer ends this connection (GOAWAY), never the server.
                    with contextlib.suppress(h2.exceptions.ProtocolError):
                        conn.close_connection(error_code=h2.errors.ErrorCodes.PROTOCOL_ERROR)
                    writer.write(conn.data_to_send())
                    break
                writer.write(conn.data_to_send())
                await writer.drain()
                if conn.state_machine.state == h2.connection.ConnectionState.CLOSED:
                    break
        except (ConnectionError, ssl.SSLError, TimeoutError):
            # The peer went away or failed the TLS handshake: its connection is over.
            return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
                await writer.wait_closed()

    def _on_event(
        self,
        conn: h2.connection.H2Connection,
        event: h2.events.Event,
        streams: dict[int, _Stream],
        pending: dict[int, bytes],
        peer: _Peer,
    ) -> None:
        if isinstance(event, h2.events.RequestReceived):
            streams[event.stream_id] = _Stream(
                headers=[(n.decode("latin-1"), v.decode("latin-1")) for n, v in event.headers]
            )
        elif isinstance(event, h2.events.DataReceived):
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            stream = streams.get(event.stream_id)
            if stream is not None and not stream.too_large:
                stream.body += event.data
                if len(stream.body) > MAX_PAYLOAD:
                    stream.too_large = True
                    stream.body.clear()
        elif isinstance(event, h2.events.StreamEnded):
            stream = streams.pop(event.stream_id, None)
            if stream is not None:
                status, body, apns_id = self._answer(stream, peer)
                conn.send_headers(
                    event.stream_id,
                    [(":status", str(status)), ("apns-id", apns_id)]
                    + ([("content-type", "application/json")] if body else []),
                    end_stream=not body,
                )
                if body:
                    pending[event.stream_id] = body
        elif isinstance(event, h2.events.StreamReset):
            streams.pop(event.stream_id, None)
            pending.pop(event.stream_id, None)
        self._flush(conn, pending)

    @staticmethod
    def _flush(conn: h2.connection.H2Connection, pending: dict[int, bytes]) -> None:
        # Response bodies wait for flow-control credit instead of overrunning the window.
        for stream_id in list(pending):
            data = pending[stream_id]
            room = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
            if room <= 0:
                continue
            conn.send_data(stream_id, data[:room], end_stream=len(data) <= room)
            if len(data) <= room:
                del pending[stream_id]
            else:
                pending[stream_id] = data[room:]

    # -- APNs semantics ------------------------------------------------------------------

    def _answer(self, stream: _Stream, peer: _Peer) -> tuple[int, bytes, str]:
        self.requests_seen += 1
        names = [name for name, _ in stream.headers]
        headers = dict(stream.headers)
        apns_id = headers.get("apns-id", "")
        try:
            apns_id = str(uuid.UUID(apns_id)) if apns_id else str(uuid.uuid4())
        except ValueError:
            return 400, _reason("BadMessageId"), str(uuid.uuid4())
        if self._failures:
            status, reason = self._failures.pop(0)
            return status, _reason(reason), apns_id
        refusal = self._refusal(stream, headers, names, peer)
        if refusal is not None:
            return refusal[0], refusal[1], apns_id
        token = headers[":path"][len(_PREFIX) :].lower()
        if token in self._unregistered:
            body = json.dumps({"reason": "Unregistered", "timestamp": self._unregistered[token]})
            return 410, body.encode(), apns_id
        if token not in self._registered and not self._accept_unknown:
            return 400, _reason("BadDeviceToken"), apns_id
        topic = headers["apns-topic"]
        bound = self._registered.get(token)
        if bound is not None and bound != topic:
            return 400, _reason("DeviceTokenNotForTopic"), apns_id
        delivery = Delivery(
            token=token,
            topic=topic,
            headers={k: v for k, v in headers.items() if k != "authorization"},
            body=bytes(stream.body),
            received_at=self._clock(),
            apns_id=apns_id,
            tls=peer.tls,
            client_cert=peer.client_cert,
        )
        self.deliveries.append(delivery)
        queue = self._queues.get(token)
        if queue is not None:
            queue.put_nowait(delivery)
        for listener in self._listeners:
            listener(delivery)
        return 200, b"", apns_id

    def _refusal(
        self, stream: _Stream, headers: dict[str, str], names: list[str], peer: _Peer
    ) -> tuple[int, bytes] | None:
        if len(names) != len(set(names)):
            return 400, _reason("DuplicateHeaders")
        if headers.get(":method") != "POST":
            return 405, _reason("MethodNotAllowed")
        path = headers.get(":path", "")
        if not path.startswith(_PREFIX):
            return 404, _reason("BadPath")
        token = path[len(_PREFIX) :]
        if not token:
            return 400, _reason("MissingDeviceToken")
        if not is_valid_push_token(token):
            return 400, _reason("BadDeviceToken")
        if self._require_client_cert and not peer.client_cert:
            return 403, _reason("BadCertificate")
        if self._provider_key is not None:
            denied = self._check_provider_token(self._provider_key, headers.get("authorization"))
            if denied is not None:
                return 403, _reason(denied)
        return self._check_fields(stream, headers)

    def _check_provider_token(
        self, key: ec.EllipticCurvePublicKey, authorization: str | None
    ) -> str | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return "MissingProviderToken"
        try:
            claims = verify_provider_token(token, key, int(self._clock()))
        except ProviderTokenError as exc:
            return exc.reason
        if self._team_id is not None and claims.team_id != self._team_id:
            return "InvalidProviderToken"
        return None

    @staticmethod
    def _check_fields(stream: _Stream, headers: dict[str, str]) -> tuple[int, bytes] | None:
        topic = headers.get("apns-topic")
        if not topic:
            return 400, _reason("MissingTopic")
        try:
            validate_topic(topic)
        except ValidationError:
            return 400, _reason("BadTopic")
        if headers.get("apns-push-type", "alert") not in PUSH_TYPES:
            return 400, _reason("InvalidPushType")
        priority = headers.get("apns-priority", "10")
        if not priority.isdigit() or int(priority) not in PRIORITIES:
            return 400, _reason("BadPriority")
        if not headers.get("apns-expiration", "0").isdigit():
            return 400, _reason("BadExpirationDate")
        if stream.too_large:
            return 413, _reason("PayloadTooLarge")
        if not stream.body:
            return 400, _reason("PayloadEmpty")
        try:
            payload = json.loads(stream.body)
        except (ValueError, RecursionError):
            return 400, _reason("BadPayload")
        if not isinstance(payload, dict):
            return 400, _reason("BadPayload")
        return None


def _reason(reason: str) -> bytes:
    return json.dumps({"reason": reason}).encode()


def server_ssl_context(
    cert_file: str, key_file: str, *, client_ca_file: str | None = None
) -> ssl.SSLContext:
    """A TLS server context offering only h2; with ``client_ca_file`` it demands a client
    certificate issued by that CA (certificate-based provider auth)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file is not None:
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    return context


class ReceiverThread:
    """Runs an ApnsReceiver on its own event loop in a daemon thread.

    Use as a context manager; every method is safe to call from any thread.
    """

    def __init__(
        self,
        receiver: ApnsReceiver | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.receiver = receiver if receiver is not None else ApnsReceiver()
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{self._host}:{self.port}"

    def _call(self, coro: Coroutine[Any, Any, _T], timeout: float | None = 10.0) -> _T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the receiver thread is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _run(self, fn: Callable[[], _T]) -> _T:
        async def inner() -> _T:
            return fn()

        return self._call(inner())

    def start(self) -> int:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="apns-receiver", daemon=True
        )
        self._thread.start()
        try:
            self.port = self._call(self.receiver.start(self._host, self._port, self._ssl_context))
        except BaseException:
            self.stop()
            raise
        return self.port

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            self._call(self.receiver.stop())
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> ReceiverThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def deliveries(self) -> list[Delivery]:
        return self._run(lambda: list(self.receiver.deliveries))

    def register(self, token: str, topic: str | None = None) -> None:
        self._run(lambda: self.receiver.register(token, topic))

    def mark_unregistered(self, token: str) -> None:
        self._run(lambda: self.receiver.mark_unregistered(token))

    def fail_next(self, n: int, status: int = 503, reason: str = "ServiceUnavailable") -> None:
        self._run(lambda: self.receiver.fail_next(n, status, reason))

    def subscribe(self, token: str) -> None:
        """Start queueing accepted pushes for ``token`` (it also becomes registered)."""
        self._run(lambda: self.receiver.subscribe(token))

    def wait_for_push(self, token: str, timeout: float = 5.0) -> Delivery:
        """Take the next queued push for ``token``, waiting up to ``timeout`` seconds.

        Only pushes accepted after ``subscribe`` are queued; this subscribes if needed,
        so subscribe first when the push may be sent before the wait starts.
        Raises TimeoutError when nothing arrives in time.
        """
        self.subscribe(token)

        async def take() -> Delivery:
            return await asyncio.wait_for(self.receiver.subscribe(token).get(), timeout)

        return self._call(take(), timeout=None)
