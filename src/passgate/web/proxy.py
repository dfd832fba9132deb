"""Which scheme and client a request has: trusted proxies only, then HSTS over https.

Behind a TLS-terminating proxy the server sees plain http from the proxy's address.
``X-Forwarded-Proto`` and ``X-Forwarded-For`` tell the truth only when the proxy wrote
them, so they are honoured only from the addresses in ``PASSGATE_TRUSTED_PROXIES``; from
anyone else they are ignored (a client cannot make itself https, nor another address to
dodge a rate limit). The client is the right-most forwarded address that is not itself
a trusted proxy. Once the scheme is https, every response carries
Strict-Transport-Security and cookies take the ``__Host-`` prefix (web.deps).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

HSTS = b"max-age=31536000"


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.5``, ``10.0.0.0/8``); ValueError names a bad one."""
    out: list[Network] = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IP address or network") from exc
    return tuple(out)


def _trusted(host: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in networks)


def _header(scope: Scope, name: bytes) -> str | None:
    values = [v.decode("latin-1") for k, v in scope["headers"] if k == name]
    return ",".join(values) if values else None


class TrustedProxies:
    def __init__(self, app: ASGIApp, trusted: Iterable[str] = ()) -> None:
        self.app = app
        self.networks = parse_networks(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if client and self.networks and _trusted(client[0], self.networks):
            scope = dict(scope)
            proto = _header(scope, b"x-forwarded-proto")
            if proto:
                last = proto.split(",")[-1].strip().lower()
                if last in ("http", "https"):
                    secure = last == "https"
                    if scope["type"] == "websocket":
                        scope["scheme"] = "wss" if secure else "ws"
                    else:
                        scope["scheme"] = last
            forwarded = _header(scope, b"x-forwarded-for")
            if forwarded:
                hops = [h.strip() for h in forwarded.split(",") if h.strip()]
                for hop in reversed(hops):
                    if not _trusted(hop, self.networks):
                        scope["client"] = (hop, 0)
                        break
        if scope["type"] == "http" and scope.get("scheme") == "https":
            await self.app(scope, receive, _with_hsts(send))
            return
        await self.app(scope, receive, send)


def _with_hsts(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (k, v) for k, v in message.get("headers", []) if k != b"strict-transport-security"
            ]
            headers.append((b"strict-transport-security", HSTS))
            message = {**message, "headers": headers}
        await send(message)

    return sending
