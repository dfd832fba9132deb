"""Outgoing webhook HTTP calls (httpx), as the HttpPoster port the services use."""

from __future__ import annotations

import socket
from collections.abc import Collection
from urllib.parse import urlsplit

import httpx

from passgate.domain.destinations import check_addresses, host_of


class HttpxPoster:
    def __init__(self, timeout_s: float, allowed_hosts: Collection[str] = ()) -> None:
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._allowed = tuple(allowed_hosts)

    def _check_destination(self, url: str) -> None:
        """SSRF: every address the host resolves to now must be public or allowed.

        ValidationError (permanent) when refused; ConnectionError when it does not resolve.
        """
        host = host_of(url)
        port = urlsplit(url).port or (443 if url.startswith("https") else 80)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise ConnectionError("name resolution failed") from exc
        check_addresses(host, [str(info[4][0]) for info in infos], self._allowed)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self._check_destination(url)
        try:
            return self._client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            # Map transport failures to OSError so services stay free of httpx.
            raise ConnectionError(type(exc).__name__) from exc

    def close(self) -> None:
        self._client.close()
