"""Prometheus metrics and the request log, as one ASGI middleware."""

from __future__ import annotations

import logging
import secrets
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger("passgate.http")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "passgate_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "passgate_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def _route_of(request: Request) -> str:
    # The route template (not the raw path) keeps label cardinality bounded.
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


class ObserveMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: object, metrics: Metrics) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.metrics = metrics

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        request_id = request.headers.get("x-request-id", "")[:64] or secrets.token_hex(8)
        request.state.request_id = request_id
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = _route_of(request)
        self.metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        self.metrics.latency.labels(request.method, route).observe(elapsed)
        response.headers["X-Request-Id"] = request_id
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "actor": getattr(request.state, "actor_id", None),
            },
        )
        return response
