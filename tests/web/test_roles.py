"""R26: every operation x every role -> the status the declared table says.

The matrix is generated from the OpenAPI document (and, for the SCIM endpoint and the
dashboard, from the app's routes): each operation is called as anonymous, a member's
app session, a member's browser session (cookie + CSRF), a read-only key, an admin
key, an owner's browser session and the operator. A caller the table refuses gets
403 (401 when anonymous) and changes nothing; a caller it admits is never refused,
and its reads answer 200. An operation without a declared entry fails the suite.
Members reach only their own things, and those answers carry nobody else's data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.conftest import Org, operator_headers
from tests.passes.helpers import (
    add_app_credential,
    app_headers,
    fresh_app_key,
    iphone,
    make_eligible,
)
from tests.web.test_bad_input import VALID
from tests.web.test_tenant_isolation import BODIES, PARAM_KIND, add_door_command

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.domain.errors import PermissionDenied
from passgate.services import authz
from passgate.services.actors import Actor, ActorKind
from passgate.services.auth.sessions import LoginProof, start_session
from passgate.services.authz import Principal
from passgate.services.events import record_event
from passgate.web import deps
from passgate.web.dashboard import auth as dashboard_auth

ANONYMOUS = "anonymous"
CALLERS = (
    ANONYMOUS,
    Principal.MEMBER_APP,
    Principal.MEMBER_BROWSER,
    Principal.READ_ONLY,
    Principal.OPERATOR,
    Principal.ADMIN,  # an admin API key
    Principal.OWNER,  # an owner's browser session
)
SESSIONS = {
    Principal.MEMBER_APP: m.SessionKind.APP,
    Principal.MEMBER_BROWSER: m.SessionKind.BROWSER,
    Principal.OWNER: m.SessionKind.BROWSER,
}
CSRF = "csrf-for-the-role-matrix"


@dataclass
class World:
    client: TestClient
    org: Org
    ids: dict[str, str]
    me_id: str  # the member whose sessions play member_app / member_browser
    owner_id: str
    read_only: dict[str, str]
    foreign: set[str]  # ids a member must never see: other people, their pass, their taps

    def session(self, caller: Principal) -> dict[str, str]:
        c: Container = self.client.app.state.container  # type: ignore[attr-defined]
        member_id = self.owner_id if caller is Principal.OWNER else self.me_id
        now = c.clock.now()
        kind = SESSIONS[caller]
        with c.uow_factory(self.org.id) as uow:
            issued = start_session(
                uow,
                member=uow.repo(m.Member).get(member_id),
                kind=kind,
                proof=LoginProof("oidc", "https://idp.test", True, ("pwd", "otp"), now),
                policy=c.session_policy(kind),
                now=now,
            )
        if caller is Principal.MEMBER_APP:
            return {"Authorization": f"Bearer {issued.token}"}
        # The browser way: the session cookie, and the CSRF cookie echoed in the header.
        return {
            "Cookie": f"{deps.SESSION_COOKIE}={issued.token}; {deps.CSRF_COOKIE}={CSRF}",
            deps.CSRF_HEADER: CSRF,
        }

    def headers(self, caller: str) -> dict[str, str]:
        if caller == ANONYMOUS:
            return {}
        if caller == Principal.OPERATOR:
            return operator_headers()
        if caller == Principal.ADMIN:
            return self.org.headers
        if caller == Principal.READ_ONLY:
            return self.read_only
        return self.session(Principal(caller))


def _tap(c: Container, org_id: str, member_id: str, door_id: str, granted: bool) -> str:
    now = c.clock.now()
    event_id = m.new_id("evt")
    with c.uow_factory(org_id) as uow:
        record_event(
            uow,
            m.Event(
                id=event_id,
                org_id=org_id,
                category=m.EventCategory.ACCESS,
                type="access.granted" if granted else "access.denied",
                idempotency_key=event_id,
                occurred_at=now,
                recorded_at=now,
                door_id=door_id,
                member_id=member_id,
                granted=granted,
                reason="granted" if granted else "no_access_right",
            ),
        )
    return event_id


def _add_pass(client: TestClient, org: Org, member_id: str) -> str:
    headers = app_headers(client, org.id, member_id)
    r = client.post("/api/v1/me/apple_pass", json={"iphone": iphone()}, headers=headers)
    assert r.status_code == 200, r.text
    return str(r.json()["pass_id"])


def build_world(client: TestClient) -> World:
    c: Container = client.app.state.container  # type: ignore[attr-defined]
    org = Org(client, "acme")
    ids = org.world()
    other = Org(client, "other")  # another tenant: nothing of it may show up either
    other_ids = other.world()
    me_id = org.post("/members", {"email": "me@example.com", "display_name": "Me"})["id"]
    org.post("/access_rights", {"member_id": me_id, "group_id": ids["group"]})
    owner_id = org.post(
        "/members", {"email": "boss@example.com", "display_name": "Boss", "role": "owner"}
    )["id"]
    make_eligible(client, org)
    ids["apple_pass"] = _add_pass(client, org, ids["member"])  # someone else's pass
    ids["app_credential"] = add_app_credential(client, org, ids["member"])  # and app key
    my_pass = _add_pass(client, org, me_id)
    _add_pass(client, org, owner_id)
    sub = client.post(
        f"/api/v1/organizations/{org.id}/subscriptions",
        json={"valid_from": "2026-01-01T00:00:00Z"},
        headers=operator_headers(),
    )
    ids["subscription"] = sub.json()["id"]
    ids["door_command"] = add_door_command(client, org, ids)
    mine = _tap(c, org.id, me_id, ids["door"], True)
    theirs = _tap(c, org.id, ids["member"], ids["door"], False)
    key = client.post(
        "/api/v1/api_keys", json={"name": "audit", "role": "read_only"}, headers=org.headers
    )
    assert key.status_code == 201, key.text
    world = World(
        client=client,
        org=org,
        ids=ids,
        me_id=me_id,
        owner_id=owner_id,
        read_only={"Authorization": f"Bearer {key.json()['token']}"},
        foreign={
            ids["member"],
            ids["apple_pass"],
            ids["app_credential"],
            theirs,
            ids["api_key"],
            ids["webhook"],
        }
        | set(other_ids.values()),
    )
    world.ids["my_pass"], world.ids["my_tap"] = my_pass, mine
    return world


@dataclass(frozen=True)
class Call:
    operation: str
    method: str
    url: str
    body: dict[str, Any] | None


def _calls(world: World) -> Iterator[Call]:
    """Every operation of the OpenAPI document, reads first and deletes last."""
    doc = world.client.get("/api/v1/openapi.json").json()
    calls = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            url = path
            for p in op.get("parameters", []):
                if p["in"] == "path":
                    kind = PARAM_KIND.get(p["name"], p["name"].removesuffix("_id"))
                    url = url.replace("{" + p["name"] + "}", world.ids[kind])
            op_id = op["operationId"]
            body = BODIES.get(op_id) or VALID.get(op_id)
            if op_id == "provision_apple_pass":
                body = {"iphone": iphone("my-iphone")}
            if op_id == "register_app_credential":
                body = {"public_key": fresh_app_key(), "device_id": "my-iphone"}
            if body is not None:
                body = {
                    k: world.ids[v[1:]] if isinstance(v, str) and v.startswith("@") else v
                    for k, v in body.items()
                }
            calls.append(Call(op_id, method.upper(), url, body))
    order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    return iter(sorted(calls, key=lambda x: order[x.method]))


def _expected_denial(caller: str, operation: str) -> int | None:
    """The status the table demands for a refused caller, or None when it is admitted."""
    if operation in authz.PUBLIC:
        return None
    if caller == ANONYMOUS:
        return 401
    rule = authz.rule_for(operation)
    is_session = caller in SESSIONS
    return None if rule.allows(Principal(caller), is_session=is_session) else 403


def _state(world: World) -> str:
    h, client = world.org.headers, world.client
    kinds = ("places", "doors", "readers", "groups", "members", "access_rights", "webhooks")
    counts = {k: client.get(f"/api/v1/{k}", headers=h).headers["X-Total-Count"] for k in kinds}
    counts["events"] = client.get("/api/v1/events", headers=h).headers["X-Total-Count"]
    counts["passes"] = json.dumps(client.get("/api/v1/apple_passes", headers=h).json())
    counts["sso"] = json.dumps(client.get("/api/v1/sso", headers=h).json())
    counts["orgs"] = client.get("/api/v1/organizations", headers=operator_headers()).headers[
        "X-Total-Count"
    ]
    return json.dumps(counts, sort_keys=True)


def test_every_operation_answers_every_role_as_the_table_says(client: TestClient) -> None:
    world = build_world(client)
    calls = list(_calls(world))
    undeclared = [
        x.operation
        for x in calls
        if x.operation not in authz.POLICY and x.operation not in authz.PUBLIC
    ]
    assert not undeclared, f"operations without a declared role entry: {undeclared}"
    assert len(calls) > 50

    # Refused callers first, all of them, on one unchanged world: nothing may move.
    fixed = {caller: world.headers(caller) for caller in CALLERS if caller != ANONYMOUS}
    fixed[ANONYMOUS] = {}
    before = _state(world)
    refused = 0
    for call in calls:
        for caller in CALLERS:
            want = _expected_denial(caller, call.operation)
            if want is None:
                continue
            r = client.request(call.method, call.url, json=call.body, headers=fixed[caller])
            assert r.status_code == want, (caller, call.operation, r.status_code, r.text)
            refused += 1
    assert _state(world) == before
    assert refused > 250

    # Admitted callers: never refused, never a server error, reads answer 200.
    admitted: dict[str, set[str]] = {}
    for call in calls:
        for caller in CALLERS:
            if _expected_denial(caller, call.operation) is not None:
                continue
            r = client.request(call.method, call.url, json=call.body, headers=world.headers(caller))
            # A public operation's bogus code may be 401: it authenticates by what it carries.
            refused_as = (403,) if call.operation in authz.PUBLIC else (401, 403)
            assert r.status_code not in refused_as and r.status_code < 500, (
                caller,
                call.operation,
                r.status_code,
                r.text,
            )
            if call.method == "GET":
                assert r.status_code == 200, (caller, call.operation, r.text)
            if caller in (Principal.MEMBER_APP, Principal.MEMBER_BROWSER):
                leaked = [i for i in world.foreign if i in r.text]
                assert not leaked, (caller, call.operation, leaked)
            admitted.setdefault(caller, set()).add(call.operation)

    member_ops = {"get_me", "get_my_apple_pass", "get_my_access", "list_my_events", "app_logout"}
    assert admitted[Principal.MEMBER_APP] == member_ops | {
        "provision_apple_pass",
        "register_app_credential",
        "delete_my_app_credential",
        "app_token",
        "pair_reader",
    }
    assert admitted[Principal.MEMBER_BROWSER] == member_ops | {"app_token", "pair_reader"}
    assert Principal.READ_ONLY in admitted and all(
        authz.rule_for(op) is authz.READ
        for op in admitted[Principal.READ_ONLY]
        if op not in authz.PUBLIC
    )


def test_a_member_sees_their_own_profile_pass_access_and_taps(client: TestClient) -> None:
    world = build_world(client)
    for caller in (Principal.MEMBER_APP, Principal.MEMBER_BROWSER):
        profile = client.get("/api/v1/me", headers=world.session(caller)).json()
        assert profile["id"] == world.me_id and profile["email"] == "me@example.com"
        own = client.get("/api/v1/me/apple_pass", headers=world.session(caller)).json()
        assert own["id"] == world.ids["my_pass"] and own["devices"][0]["kind"] == "iphone"
        access = client.get("/api/v1/me/access", headers=world.session(caller)).json()
        assert [a["door_id"] for a in access] == [world.ids["door"]]
        assert access[0]["group_name"] == "Staff" and access[0]["schedules"][0]["windows"]
        taps = client.get("/api/v1/me/events", headers=world.session(caller))
        assert [t["id"] for t in taps.json()] == [world.ids["my_tap"]]
        assert taps.headers["X-Total-Count"] == "1"


def _walk(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        included = getattr(route, "original_router", None)  # a router included lazily
        yield from _walk(included.routes) if included is not None else [route]


def _guarded_routes(client: TestClient) -> dict[str, APIRoute]:
    """Every route that resolves a caller, keyed by its entry in the table."""
    out = {}
    for route in _walk(client.app.routes):  # type: ignore[attr-defined]
        if not isinstance(route, APIRoute):
            continue
        calls = {d.call for d in route.dependant.dependencies}
        name = route.operation_id or route.name
        if dashboard_auth.dashboard_actor in calls:
            out[f"dashboard_{name}"] = route
        elif deps.actor in calls:
            out[name] = route
    return out


def test_the_table_and_the_routes_match_one_to_one(client: TestClient) -> None:
    guarded = _guarded_routes(client)
    assert set(guarded) - set(authz.POLICY) == set(), "routes without a declared role entry"
    assert set(authz.POLICY) - set(guarded) == set(), "table entries for no route"
    assert any(k.startswith("scim_") for k in guarded) and any(
        k.startswith("dashboard_") for k in guarded
    )


def test_an_operation_nobody_declared_is_refused_to_everyone() -> None:
    operator = Actor(ActorKind.OPERATOR, "operator", "operator", None, "owner")
    with pytest.raises(PermissionDenied):
        authz.authorize(operator, "brand_new_operation")


def test_dashboard_pages_and_scim_follow_the_table(client: TestClient) -> None:
    world = build_world(client)
    params = {
        "{apple_pass_id}": world.ids["apple_pass"],
        "{place_id}": world.ids["place"],
        "{door_id}": world.ids["door"],
        "{reader_id}": world.ids["reader"],
        "{schedule_id}": world.ids["schedule"],
        "{group_id}": world.ids["group"],
        "{member_id}": world.ids["member"],
    }
    pages = {}
    for key, route in _guarded_routes(client).items():
        if key.startswith("dashboard_") and "GET" in (route.methods or set()):
            path = route.path
            for name, value in params.items():
                path = path.replace(name, value)
            pages[key] = path
    assert len(pages) >= 7
    # A member's browser is sent from the overview to their own page, which it may see.
    member_browser = {"dashboard_overview": 303, "dashboard_my_page": 200}
    for key, page in pages.items():
        for caller, want in (
            (Principal.MEMBER_BROWSER, member_browser.get(key, 403)),
            (Principal.MEMBER_APP, 403),  # an app token carried in a cookie
            (Principal.OWNER, 200),
        ):
            headers = world.session(caller)
            if caller is Principal.MEMBER_APP:
                token = headers["Authorization"].split()[1]
                headers = {"Cookie": f"{deps.SESSION_COOKIE}={token}"}
            r = client.get(page, headers=headers, follow_redirects=False)
            assert r.status_code == want, (caller, page, r.status_code)
    for caller in (Principal.MEMBER_APP, Principal.MEMBER_BROWSER, Principal.READ_ONLY):
        r = client.get("/scim/v2/Users", headers=world.headers(caller))
        assert r.status_code == 403, (caller, r.text)
    assert client.get("/scim/v2/Users", headers=world.org.headers).status_code == 200
