"""Prometheus metrics and the request log, as one ASGI middleware."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from passgate.services.container import Container

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

        self.taps = Counter(
            "passgate_taps_total",
            "Taps stored from readers, by result and reason (counted by the API process "
            "that received them; sum over processes)",
            ["result", "reason"],
            registry=self.registry,
        )

        self.reader_push = Histogram(
            "passgate_reader_push_seconds",
            "From a commit in this process to the changed reader caches written to every "
            "affected reader's connection (the server's part of revocation propagation, R16)",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )

    def watch(self, container: Container) -> None:
        """Report the shared state (readers, outbox) from the database at each scrape."""
        self.registry.register(_StateCollector(container))

    def observe_push(self, seconds: float) -> None:
        self.reader_push.observe(seconds)

    def count_taps(self, items: Iterable[tuple[bool, str]]) -> None:
        for granted, reason in items:
            self.taps.labels("granted" if granted else "denied", reason or "none").inc()

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class _StateCollector(Collector):
    """Gauges read from the database when Prometheus scrapes (shared by all processes)."""

    def __init__(self, container: Container) -> None:
        self._c = container

    def describe(self) -> Iterator[Metric]:
        return iter(())  # no fixed description: the registry must not collect at register

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("passgate_database_up", "1 when the database answered the scrape")
        try:
            snap = self._c.ops_stats.snapshot(self._c.clock.now())
        except Exception:  # any failure here is reported as the metric, never as a 500
            log.warning("metrics: the database did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        readers = GaugeMetricFamily(
            "passgate_readers", "Readers by state (online, offline, tampered)", labels=["state"]
        )
        for state, n in snap.readers.items():
            readers.add_metric([state], n)
        yield readers
        messages = GaugeMetricFamily(
            "passgate_outbox_messages",
            "Outbox messages by kind (webhook, apns, ...) and state "
            "(queued, retrying, delivered, failed)",
            labels=["kind", "state"],
        )
        for (kind, state), n in sorted(snap.outbox.items()):
            messages.add_metric([kind, state], n)
        yield messages
        age = GaugeMetricFamily(
            "passgate_outbox_oldest_pending_seconds",
            "Age of the oldest message of each kind still waiting for delivery",
            labels=["kind"],
        )
        for kind, seconds in sorted(snap.oldest_pending_s.items()):
            age.add_metric([kind], seconds)
        yield age
        failed = GaugeMetricFamily(
            "passgate_outbox_failed_attempts",
            "Failed delivery attempts recorded on the outbox messages kept, by kind (webhook, "
            "apns): rises with every failed try, also of messages delivered later",
            labels=["kind"],
        )
        for kind, n in sorted(snap.failed_attempts.items()):
            failed.add_metric([kind], n)
        yield failed


def _route_of(scope: Scope) -> str:
    # The route template (not the raw path) keeps label cardinality bounded.
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


class ObserveMiddleware:
    """Counts, times and logs each HTTP request; a plain ASGI middleware (no extra task
    or body stream per request, as Starlette's BaseHTTPMiddleware would add)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")[:64]
                break
        request_id = given or secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                headers["X-Request-Id"] = request_id
            await send(message)

        await self.app(scope, receive, send_observed)
        elapsed = time.perf_counter() - started
        route = _route_of(scope)
        method = scope["method"]
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(elapsed)
        state = scope.get("state", {})
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "actor": state.get("actor_id"),
            },
        )
