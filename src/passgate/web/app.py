"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse, Response

from passgate import __version__
from passgate.services.container import Container
from passgate.web import (
    api_docs,
    dashboard,
    errors,
    openapi,
    passes,
    passkit,
    reader_link,
    scim,
    sso,
)
from passgate.web.api import API_PREFIX, admin, app_credentials, me, operator, resources
from passgate.web.dashboard import views as dashboard_views
from passgate.web.limits import InputLimits
from passgate.web.metrics import Metrics, ObserveMiddleware
from passgate.web.proxy import TrustedProxies

DESCRIPTION = """
Passgate REST API v1. Authenticate with `Authorization: Bearer <API key>`.
Organization keys see and change only their own organization; the operator key
creates organizations and grants subscriptions. Lists are paged with `limit` and
`offset` and carry the total in the `X-Total-Count` header; `events` and `apple_passes`
page by `cursor` (see their descriptions). Errors read
`{"error": {"code", "message", "field"}}`.
"""


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="Passgate",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served by api_docs from local files, not a CDN
        redoc_url=None,
    )
    api_docs.install(
        app,
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=f"{API_PREFIX}/redoc",
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    openapi.install(app)
    app.state.container = container
    errors.install(app)
    metrics = Metrics()
    app.state.metrics = metrics
    # Inside the request log, so refused inputs are still counted and logged.
    app.add_middleware(InputLimits)
    app.add_middleware(ObserveMiddleware, metrics=metrics)
    # Outermost: every layer inside sees the scheme and client the trusted proxy reported.
    app.add_middleware(TrustedProxies, trusted=container.settings.trusted_proxies)
    # First: routes are matched in order, and Wallet's calls are the hot path.
    app.include_router(passkit.router())
    app.include_router(operator.router())
    app.include_router(admin.router())
    app.include_router(resources.router())
    app.include_router(me.router())
    app.include_router(dashboard.router())
    dashboard_views.mount_static(app)
    # Area routers (SSO, Apple Passes, PassKit web service, reader gateway) follow, one per line.
    app.include_router(sso.router())
    app.include_router(reader_link.router())
    app.include_router(passes.router())
    app.include_router(app_credentials.router())
    app.include_router(scim.router())

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/dashboard", status_code=307)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Alive: the process answers (restart it if not). Checks nothing else."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        """Ready for traffic: database reachable, schema current, pass certificate valid."""
        checks = container.readiness()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    if container.settings.metrics_enabled:
        metrics.watch(container)

        @app.get("/metrics", include_in_schema=False)
        def prometheus() -> Response:
            return metrics.render()

    return app
