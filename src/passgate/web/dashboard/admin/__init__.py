"""Dashboard administration of the building's objects: places, doors, readers,
schedules with holidays, groups with access rights, and people. Every change goes
through the same service command as the REST API (same rules, same audit)."""

from fastapi import APIRouter

from passgate.web.dashboard.admin import groups, people, places, readers, schedules


def router() -> APIRouter:
    r = APIRouter()
    r.include_router(places.router())
    r.include_router(readers.router())
    r.include_router(schedules.router())
    r.include_router(groups.router())
    r.include_router(people.router())
    return r


__all__ = ["router"]
