"""``forms.save``, the administration forms' one way to change something: the form's check
and one service command (which owns its transaction), a redirect with the message on
success, and on a refusal nothing changed and one message per field. Runs the real
``DirectoryCommands`` on the fake ports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.responses import HTMLResponse, Response
from tests.fakes import FakeDatabase, FakeUnitOfWorkFactory, FixedClock

from passgate.domain import model as m
from passgate.domain.errors import Conflict, NotFound, PermissionDenied
from passgate.services.actors import Actor, ActorKind
from passgate.services.directory import catalog
from passgate.services.directory.commands import DirectoryCommands
from passgate.web.dashboard.admin.forms import Invalid, save

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
ADMIN = Actor(kind=ActorKind.API_KEY, id="key_admin", name="ci", org_id="org_a", role="admin")
READER = Actor(kind=ActorKind.API_KEY, id="key_ro", name="ro", org_id="org_a", role="read_only")
PLACE = m.Place(id="plc_1", org_id="org_a", name="HQ", timezone="UTC", address=None, created_at=NOW)
DOOR = m.Door(
    id="dor_1",
    org_id="org_a",
    place_id="plc_1",
    name="Front",
    timezone="UTC",
    lockdown=False,
    staleness_limit_s=3600,
    schedule_id=None,
    created_at=NOW,
)


def _commands(db: FakeDatabase) -> DirectoryCommands:
    return DirectoryCommands(FakeUnitOfWorkFactory(db), FixedClock(NOW), topic=None)


def _db(*extra: object) -> FakeDatabase:
    db = FakeDatabase()
    db.put(PLACE, *extra)
    return db


def test_a_change_commits_once_audits_it_and_redirects_with_its_message() -> None:
    db = _db()
    response = save(
        lambda: _commands(db).update(ADMIN, catalog.PLACE, "plc_1", {"name": "Harbour"}).one,
        lambda p: (f"/dashboard/places/{p.id}", f"Saved {p.name}."),
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/places/plc_1?done=Saved%20Harbour."
    assert db.get(m.Place, "plc_1").name == "Harbour" and db.commits == 1
    (event,) = db.events
    assert event.type == "place.updated" and event.occurred_at == NOW
    assert event.actor_id == "key_admin" and event.data["after"] == {"name": "Harbour"}


def _invalid() -> m.Place:
    raise Invalid({"name": "Name is required"})


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        # The form's own check: refused before any command runs.
        (lambda _db: _invalid(), {"name": "Name is required"}),
        # The service's rule: a place its doors still use is not deleted.
        (
            lambda db: _commands(db).delete(ADMIN, catalog.PLACE, "plc_1"),
            {"place_id": "this place is still used by doors; remove or move them first"},
        ),
    ],
)
def test_a_refusal_changes_nothing_and_renders_the_messages_by_field(
    change: object, errors: dict[str, str]
) -> None:
    db = _db(DOOR)
    seen: list[dict[str, str]] = []

    def refused(got: dict[str, str]) -> Response:
        seen.append(got)
        return HTMLResponse("form again", status_code=422)

    assert callable(change)
    response = save(lambda: change(db), lambda p: ("/x", "no"), refused=refused)
    assert response.status_code == 422 and seen == [errors]
    assert db.get(m.Place, "plc_1").name == "HQ" and db.commits == 0 and db.events == []


def test_without_a_form_to_show_a_refusal_and_other_errors_reach_the_error_page() -> None:
    db = _db(DOOR)
    commands = _commands(db)
    with pytest.raises(Conflict):
        save(lambda: commands.delete(ADMIN, catalog.PLACE, "plc_1"), lambda p: ("/x", "no"))
    with pytest.raises(NotFound):  # not a form message, whatever ``refused`` would show
        save(
            lambda: commands.update(ADMIN, catalog.PLACE, "plc_9", {"name": "x"}).one,
            lambda p: ("/x", "no"),
            refused=lambda errors: HTMLResponse("never"),
        )
    with pytest.raises(PermissionDenied):  # the command checks the role itself
        save(
            lambda: commands.update(READER, catalog.PLACE, "plc_1", {"name": "x"}).one,
            lambda p: ("/x", "no"),
        )
    assert db.get(m.Place, "plc_1").name == "HQ" and db.commits == 0
