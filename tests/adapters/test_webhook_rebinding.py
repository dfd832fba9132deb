"""Webhook delivery connects to the address it checked, not to a second DNS answer."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from passgate.adapters.http_poster import HttpxPoster
from passgate.domain.errors import ValidationError


class _Recorder(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int]) -> None:
        self.seen: list[tuple[str, str, bytes]] = []
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.path, self.headers["Host"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def servers() -> Iterator[tuple[_Recorder, _Recorder]]:
    """One server on 127.0.0.1 (allowed) and one on 127.0.0.2, same port."""
    allowed = _Recorder(("127.0.0.1", 0))
    other = _Recorder(("127.0.0.2", allowed.server_address[1]))
    for s in (allowed, other):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    yield allowed, other
    for s in (allowed, other):
        s.shutdown()
        s.server_close()


def _rebinding_dns(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> list[str]:
    """hook.example answers each address of ``answers`` in turn (the last one after)."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "hook.example":
            return real(host, port, *args, **kwargs)
        address = answers[min(len(asked), len(answers) - 1)]
        asked.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return asked


def test_a_second_dns_answer_is_never_connected_to(
    servers: tuple[_Recorder, _Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed, other = servers
    port = allowed.server_address[1]
    asked = _rebinding_dns(monkeypatch, ["127.0.0.1", "127.0.0.2"])
    poster = HttpxPoster(5.0, allowed_hosts=["127.0.0.1"])
    try:
        status = poster.post(f"http://hook.example:{port}/in?x=1", b'{"a":1}', {"X-T": "1"})
    finally:
        poster.close()
    assert status == 204
    assert allowed.seen == [("/in?x=1", f"hook.example:{port}", b'{"a":1}')]
    assert other.seen == [] and asked == ["127.0.0.1"]  # resolved once


def test_a_name_answering_a_refused_address_gets_no_request(
    servers: tuple[_Recorder, _Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed, other = servers
    _rebinding_dns(monkeypatch, ["127.0.0.2"])
    poster = HttpxPoster(5.0, allowed_hosts=["127.0.0.1"])
    try:
        with pytest.raises(ValidationError, match=r"non-public address 127\.0\.0\.2"):
            poster.post(f"http://hook.example:{allowed.server_address[1]}/", b"{}", {})
    finally:
        poster.close()
    assert allowed.seen == other.seen == []
