"""Outgoing webhook HTTP calls (httpx), as the HttpPoster port the services use.

The destination's name is resolved once, every address is checked (SSRF), and the
connection goes to a checked address itself: the URL's host is replaced by the address,
with the name kept in the Host header and as the TLS server name (SNI and certificate
check). A name that answers a public address to the check and an internal one to the
connect (DNS rebinding) therefore reaches nothing new.
"""

from __future__ import annotations

import socket
from collections.abc import Collection
from urllib.parse import urlsplit, urlunsplit

import httpx

from passgate.domain.destinations import check_addresses, host_of


class HttpxPoster:
    def __init__(self, timeout_s: float, allowed_hosts: Collection[str] = ()) -> None:
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._allowed = tuple(allowed_hosts)

    def _checked_addresses(self, url: str) -> list[str]:
        """SSRF: every address the host resolves to now must be public or allowed.

        Returns them (in resolver order, once each): the only addresses the delivery may
        connect to. ValidationError (permanent) when refused; ConnectionError when the
        name does not resolve.
        """
        host = host_of(url)
        port = urlsplit(url).port or (443 if url.startswith("https") else 80)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise ConnectionError("name resolution failed") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        check_addresses(host, addresses, self._allowed)
        return addresses

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        addresses = self._checked_addresses(url)
        parts = urlsplit(url)
        name = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        host_header = (f"[{name}]" if ":" in name else name) + port
        extensions = {"sni_hostname": name} if parts.scheme == "https" else {}
        failure: httpx.HTTPError | None = None
        for address in addresses:
            literal = f"[{address}]" if ":" in address else address
            pinned = urlunsplit((parts.scheme, literal + port, parts.path, parts.query, ""))
            try:
                return self._client.post(
                    pinned,
                    content=body,
                    headers={**headers, "Host": host_header},
                    extensions=extensions,
                ).status_code
            except httpx.ConnectError as exc:
                failure = exc  # this address is down: the next checked one may answer
            except httpx.HTTPError as exc:
                # Map transport failures to OSError so services stay free of httpx.
                raise ConnectionError(type(exc).__name__) from exc
        raise ConnectionError(type(failure).__name__ if failure else "no address")

    def close(self) -> None:
        self._client.close()
