"""Outgoing webhook HTTP calls (httpx), as the HttpPoster port the services use."""

from __future__ import annotations

import httpx


class HttpxPoster:
    def __init__(self, timeout_s: float) -> None:
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        try:
            return self._client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            # Map transport failures to OSError so services stay free of httpx.
            raise ConnectionError(type(exc).__name__) from exc

    def close(self) -> None:
        self._client.close()
