"""The PassKit web service routes (under <public_url>/passkit), as Wallet calls them.

Apple's protocol, not our REST API: left out of the OpenAPI document, answers with
bare status codes. Garbage from a device is a 4xx, never a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from passgate.domain.errors import NotFound, PassgateError, Unauthenticated, ValidationError
from passgate.proto.passkit import MIME_TYPE
from passgate.services.container import Container
from passgate.services.rate_limit import PASSKIT_LOG_LIMIT, PASSKIT_LOG_WINDOW

T = TypeVar("T")

MAX_BODY = 256 * 1024
# Wallet sends a log now and then; anything faster is not Wallet. Per client address:
# the log endpoint carries no credentials, so there is no device to count by.
LOG_LIMIT = PASSKIT_LOG_LIMIT  # per client, across processes (services.rate_limit)
LOG_WINDOW = PASSKIT_LOG_WINDOW


def _status(exc: PassgateError) -> int:
    if isinstance(exc, Unauthenticated):
        return 401
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, ValidationError):
        return 400
    return 400


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ValidationError("body too large", field="body")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ValidationError("body is not JSON", field="body") from exc


def _if_modified_since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # an unreadable date is ignored, as HTTP says
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _path(request: Request, *names: str) -> tuple[str, ...]:
    # Read from the match directly: declared parameters would cost a dependency solve.
    return tuple(str(request.path_params[n]) for n in names)


def _container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


async def _call(c: Container, write: bool, fn: Callable[..., T], *args: Any) -> T:
    """Run a service call with at most one thread hop.

    Reads on SQLite are in-process and take microseconds: they run on the event loop,
    where a hop to a worker thread would cost more than the query. A write waits for
    its commit to reach the disk, and PostgreSQL for a network round trip: those run in
    a worker thread, so the loop keeps serving meanwhile.
    """
    if not write and c.reads_in_process:
        return fn(*args)
    return await run_in_threadpool(fn, *args)


def router() -> APIRouter:
    """Plain async routes: no dependency to solve (each is one hop to the threadpool in
    FastAPI), the container read from the app, each service call through ``_call``."""
    r = APIRouter(prefix="/passkit/v1", include_in_schema=False)
    registrations = "/devices/{device_id}/registrations/{pass_type_id}"

    @r.post(registrations + "/{serial}")
    async def register(request: Request) -> Response:
        c = _container(request)
        device_id, pass_type_id, serial = _path(request, "device_id", "pass_type_id", "serial")
        try:
            body = await _json_body(request)
            token = body.get("pushToken") if isinstance(body, dict) else None
            created = await _call(
                c,
                True,
                c.passkit_service.register,
                device_id,
                pass_type_id,
                serial,
                request.headers.get("authorization"),
                token,
            )
        except PassgateError as exc:
            return Response(status_code=_status(exc))
        return Response(status_code=201 if created else 200)

    @r.delete(registrations + "/{serial}")
    async def unregister(request: Request) -> Response:
        c = _container(request)
        device_id, pass_type_id, serial = _path(request, "device_id", "pass_type_id", "serial")
        try:
            await _call(
                c,
                True,
                c.passkit_service.unregister,
                device_id,
                pass_type_id,
                serial,
                request.headers.get("authorization"),
            )
        except PassgateError as exc:
            return Response(status_code=_status(exc))
        return Response(status_code=200)

    @r.get(registrations)
    async def updated(request: Request) -> Response:
        c = _container(request)
        device_id, pass_type_id = _path(request, "device_id", "pass_type_id")
        passesUpdatedSince = request.query_params.get("passesUpdatedSince")
        try:
            found = await _call(
                c, False, c.passkit_service.updated_since, device_id, pass_type_id,
                passesUpdatedSince,
            )  # fmt: skip
        except PassgateError as exc:
            return Response(status_code=_status(exc))
        if found is None:
            return Response(status_code=204)
        serials, tag = found
        return JSONResponse({"serialNumbers": serials, "lastUpdated": tag})

    @r.api_route("/passes/{pass_type_id}/{serial}", methods=["GET", "HEAD"])
    async def latest(request: Request) -> Response:
        c = _container(request)
        pass_type_id, serial = _path(request, "pass_type_id", "serial")
        try:
            # A read, unless no current file is stored and it is signed now (rare).
            found = await _call(
                c,
                False,
                c.passkit_service.latest_pass,
                pass_type_id,
                serial,
                request.headers.get("authorization"),
                _if_modified_since(request.headers.get("if-modified-since")),
            )
        except PassgateError as exc:
            return Response(status_code=_status(exc))
        if found is None:
            return Response(status_code=304)
        headers = {"Last-Modified": format_datetime(found.last_modified, usegmt=True)}
        body = b"" if request.method == "HEAD" else found.body
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(found.body))
        return Response(content=body, media_type=MIME_TYPE, headers=headers)

    @r.post("/log")
    async def log(request: Request) -> Response:
        c = _container(request)
        source = request.client.host if request.client else "unknown"
        if not c.passkit_log_limit.allow(source, c.clock.now()):
            return Response(status_code=429, headers={"Retry-After": "60"})
        try:
            body = await _json_body(request)
            lines = body.get("logs") if isinstance(body, dict) else None
            await _call(c, True, c.passkit_service.log, lines)
        except PassgateError as exc:
            return Response(status_code=_status(exc))
        return Response(status_code=200)

    return r
