"""``forms.save``, the administration forms' one way to change something: one unit of
work at the clock's time, a redirect with the message on success, and on a refusal the
rolled-back transaction and one message per field (on the fake ports)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from fastapi.responses import HTMLResponse, Response
from tests.fakes import FakeDatabase, FakeUnitOfWorkFactory, FixedClock

from passgate.domain import model as m
from passgate.domain.errors import Conflict, NotFound, ValidationError
from passgate.services.actors import Actor, ActorKind
from passgate.services.container import Container
from passgate.services.ports import UnitOfWork
from passgate.web.dashboard.admin.forms import Invalid, save

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
ADMIN = Actor(kind=ActorKind.API_KEY, id="key_admin", name="ci", org_id="org_a", role="admin")
PLACE = m.Place(id="plc_1", org_id="org_a", name="HQ", timezone="UTC", address=None, created_at=NOW)


def _container(db: FakeDatabase) -> Container:
    return cast(
        Container, SimpleNamespace(uow_factory=FakeUnitOfWorkFactory(db), clock=FixedClock(NOW))
    )


def _rename(to: str, refuse: Exception | None = None) -> Any:
    def change(uow: UnitOfWork, now: datetime) -> m.Place:
        assert now == NOW
        place = uow.repo(m.Place).get("plc_1")
        place.name = to
        uow.repo(m.Place).update(place)
        if refuse is not None:
            raise refuse
        return place

    return change


def test_a_change_commits_once_and_redirects_with_its_message() -> None:
    db = FakeDatabase()
    db.put(PLACE)
    response = save(
        _container(db),
        ADMIN,
        _rename("Harbour"),
        lambda p: (f"/dashboard/places/{p.id}", f"Saved {p.name}."),
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/places/plc_1?done=Saved%20Harbour."
    assert db.get(m.Place, "plc_1").name == "Harbour" and db.commits == 1


@pytest.mark.parametrize(
    ("refusal", "errors"),
    [
        (Invalid({"name": "Name is required"}), {"name": "Name is required"}),
        (
            ValidationError("timezone is unknown", field="timezone"),
            {"timezone": "timezone is unknown"},
        ),
        (Conflict("still used by doors"), {"form": "still used by doors"}),
    ],
)
def test_a_refusal_rolls_back_and_renders_the_messages_by_field(
    refusal: Exception, errors: dict[str, str]
) -> None:
    db = FakeDatabase()
    db.put(PLACE)
    seen: list[dict[str, str]] = []

    def refused(got: dict[str, str]) -> Response:
        seen.append(got)
        return HTMLResponse("form again", status_code=422)

    response = save(
        _container(db), ADMIN, _rename("Half", refusal), lambda p: ("/x", "no"), refused=refused
    )
    assert response.status_code == 422 and seen == [errors]
    assert db.get(m.Place, "plc_1").name == "HQ" and db.commits == 0


def test_without_a_form_to_show_a_refusal_and_other_errors_reach_the_error_page() -> None:
    db = FakeDatabase()
    db.put(PLACE)
    with pytest.raises(Conflict):
        save(_container(db), ADMIN, _rename("Half", Conflict("no")), lambda p: ("/x", "no"))
    with pytest.raises(NotFound):  # not a form message, whatever ``refused`` would show
        save(
            _container(db),
            ADMIN,
            _rename("Half", NotFound("place not found")),
            lambda p: ("/x", "no"),
            refused=lambda errors: HTMLResponse("never"),
        )
    assert db.get(m.Place, "plc_1").name == "HQ" and db.commits == 0
