"""The admin dashboard: server-rendered pages over the same services as the REST API."""

from fastapi import APIRouter

from passgate.web.dashboard import admin, events, passes, settings, views


def router() -> APIRouter:
    r = APIRouter()
    r.include_router(views.router())
    r.include_router(events.router())
    r.include_router(passes.router())
    r.include_router(admin.router())
    r.include_router(settings.router())
    return r


__all__ = ["router"]
