"""Input limits at the edge, before routing and authentication.

One ASGI middleware reads each HTTP request body itself, up to the route's limit, and
answers 413 as soon as the limit is passed (a declared Content-Length over it is
refused before a byte is read), so no handler, parser or sign-in check ever sees an
oversized body. It then refuses, with 422 naming the rule:

- NUL and other control characters (tab, newline and carriage return are allowed in
  bodies) in the path, the query string, JSON strings and keys, and form fields:
  PostgreSQL cannot store NUL, and nothing Passgate keeps needs control characters;
- JSON nested deeper than ``MAX_DEPTH``;
- a body that claims to be JSON and is not (400 ``malformed_json``).

Operations that take no body refuse one (``refuse_unexpected_body``), so a typo'd field
on suspend or clear-tamper is an error rather than silently ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from fastapi import Request

from passgate.domain.errors import ValidationError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

KIB = 1024
# Longest prefix first; the first match sets the limit.
BODY_LIMITS: tuple[tuple[str, int], ...] = (
    ("/passkit/v1/log", 16 * KIB),  # Wallet's log lines
    ("/passkit/", 16 * KIB),  # registration bodies hold a push token
    ("/scim/", 64 * KIB),
    ("/sso/", 256 * KIB),  # a signed SAML response (form field of at most 200,000)
    ("/api/v1/sso/", 256 * KIB),  # SAML IdP metadata XML (at most 200,000 characters)
    ("/api/v1/organizations/", 256 * KIB),  # the operator's SSO variants
    ("/api/v1/", 64 * KIB),
)
DEFAULT_LIMIT = 64 * KIB
MAX_DEPTH = 32
_FORM_TYPE = "application/x-www-form-urlencoded"
# C0 controls and DEL; bodies may keep tab, newline and carriage return.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_BODY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BODY_SIZE_KEY = "passgate.body_size"


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def limit_for(path: str) -> int:
    for prefix, limit in BODY_LIMITS:
        if path.startswith(prefix):
            return limit
    return DEFAULT_LIMIT


def _check_text(value: str, where: str, pattern: re.Pattern[str] = _CONTROL_IN_BODY) -> None:
    if pattern.search(value):
        raise Refused(
            422,
            "control_character",
            f"{where}: NUL and other control characters are not allowed",
            where,
        )


def _too_deep() -> Refused:
    return Refused(
        422, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels is refused", "body"
    )


def _walk(value: Any, where: str, depth: int) -> None:
    """Every string and key of a JSON document; ``where`` names the field as errors do."""
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise _too_deep()  # a container inside MAX_DEPTH others
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)  # never echo the offending key itself
            _walk(item, key if where == "body" else f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{where}[{i}]", depth + 1)


def check_json(raw: bytes) -> None:
    try:
        data = json.loads(raw)
    except RecursionError as exc:
        raise _too_deep() from exc
    except ValueError as exc:  # includes UnicodeDecodeError
        raise Refused(400, "malformed_json", "the request body is not valid JSON", "body") from exc
    _walk(data, "body", 0)


def check_form(raw: bytes) -> None:
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise Refused(422, "invalid_encoding", "form data must be UTF-8", "body") from exc
    for key, value in pairs:
        _check_text(key, "body")
        _check_text(value, key)


def check_target(scope: Scope) -> None:
    _check_text(unquote(scope.get("path", "")), "path", _CONTROL)
    query = scope.get("query_string", b"").decode("latin-1")
    for key, value in parse_qsl(query, keep_blank_values=True):
        _check_text(key, "query", _CONTROL)
        _check_text(value, key, _CONTROL)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = _header(scope, b"content-length")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _too_large(limit: int) -> Refused:
    return Refused(413, "body_too_large", f"the request body is larger than {limit} bytes", "body")


SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


async def _answer(send: Send, refused: Refused, path: str) -> None:
    payload: dict[str, Any] = {
        "error": {"code": refused.code, "message": refused.message, "field": refused.field}
    }
    if path.startswith("/scim/"):
        # An identity provider reads SCIM errors (RFC 7644 section 3.12).
        payload = {
            "schemas": [SCIM_ERROR],
            "status": str(refused.status),
            "detail": refused.message,
        }
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refused.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class InputLimits:
    """Pure ASGI (no BaseHTTPMiddleware): the body is read here, once, and replayed."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_target(scope)
            raw = await _read_body(scope, receive, limit_for(scope.get("path", "")))
            kind = _header(scope, b"content-type").split(";")[0].strip().lower()
            # What FastAPI would parse as JSON: no content type, */json and */*+json.
            if raw and (not kind or kind.endswith(("/json", "+json"))):
                check_json(raw)
            elif raw and kind == _FORM_TYPE:
                check_form(raw)
        except Refused as refused:
            await _answer(send, refused, scope.get("path", ""))
            return
        scope[BODY_SIZE_KEY] = len(raw)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def refuse_unexpected_body(request: Request) -> None:
    """An operation without a request body refuses one instead of ignoring it."""
    route = request.scope.get("route")
    # Only the documented API: SCIM routes read their bodies themselves.
    documented = bool(getattr(route, "include_in_schema", False))
    declares_none = documented and getattr(route, "body_field", True) is None
    if declares_none and request.scope.get(BODY_SIZE_KEY, 0):
        raise ValidationError("this operation takes no request body", field="body")
