"""SCIM 2.0 Users endpoint (RFC 7643/7644) for identity providers: /scim/v2/Users.

Authenticated with an organization API key of role admin (the IdP's provisioning
token). Bodies and errors follow SCIM (application/scim+json), not the REST API's
conventions, so these routes stay out of the REST API's OpenAPI document.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from passgate.domain import model as m
from passgate.domain.errors import PassgateError, ValidationError
from passgate.services.directory import scim
from passgate.web.deps import ActorDep, ContainerDep
from passgate.web.errors import status_for

MEDIA = "application/scim+json"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
_FILTER = re.compile(r'^\s*userName\s+eq\s+"([^"]{1,320})"\s*$', re.IGNORECASE)
MAX_BODY = 64 * 1024


def _out(member: m.Member, base: str) -> dict[str, Any]:
    return {
        "schemas": [scim.USER_SCHEMA],
        "id": member.id,
        "externalId": member.external_id,
        "userName": member.email,
        "displayName": member.display_name,
        "name": {"formatted": member.display_name},
        "emails": [{"value": member.email, "primary": True}],
        "active": member.status == m.MemberStatus.ACTIVE,
        "meta": {
            "resourceType": "User",
            "created": member.created_at.isoformat(),
            "location": f"{base}/scim/v2/Users/{member.id}",
        },
    }


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=MEDIA)


def _error(exc: PassgateError) -> JSONResponse:
    status = status_for(exc)
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": exc.message}
    if isinstance(exc, ValidationError):
        body["scimType"] = "invalidValue"
    return _json(body, status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ValidationError("the request body is too large", field="body")
    try:
        data = json.loads(raw or b"null")
    except ValueError as exc:
        raise ValidationError("the body is not valid JSON", field="body") from exc
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    return data


def router() -> APIRouter:
    r = APIRouter(prefix="/scim/v2", include_in_schema=False)

    @r.get("/Users", operation_id="scim_list_users")
    def list_users(
        c: ContainerDep,
        who: ActorDep,
        filter: Annotated[str | None, Query(max_length=400)] = None,
        startIndex: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        count: Annotated[int, Query(ge=0, le=500)] = 100,
    ) -> Response:
        try:
            user_name = None
            if filter:
                match = _FILTER.match(filter)
                if match is None:
                    raise ValidationError(
                        'only the filter userName eq "..." is supported', field="filter"
                    )
                user_name = match.group(1)
            members = c.scim.users(who, user_name)
        except PassgateError as exc:
            return _error(exc)
        page = members[startIndex - 1 : startIndex - 1 + count]
        base = c.settings.public_url
        return _json(
            {
                "schemas": [LIST],
                "totalResults": len(members),
                "startIndex": startIndex,
                "itemsPerPage": len(page),
                "Resources": [_out(x, base) for x in page],
            }
        )

    @r.post("/Users", operation_id="scim_create_user")
    async def create_user(request: Request, c: ContainerDep, who: ActorDep) -> Response:
        try:
            user = scim.parse_user(await _body(request))
            member = c.scim.create(who, user)
        except PassgateError as exc:
            return _error(exc)
        return _json(_out(member, c.settings.public_url), 201)

    @r.get("/Users/{member_id}", operation_id="scim_get_user")
    def get_user(member_id: str, c: ContainerDep, who: ActorDep) -> Response:
        try:
            member = c.scim.get(who, member_id)
        except PassgateError as exc:
            return _error(exc)
        return _json(_out(member, c.settings.public_url))

    @r.put("/Users/{member_id}", operation_id="scim_replace_user")
    async def replace_user(
        member_id: str, request: Request, c: ContainerDep, who: ActorDep
    ) -> Response:
        try:
            user = scim.parse_user(await _body(request))
            member = c.scim.replace(who, member_id, user)
        except PassgateError as exc:
            return _error(exc)
        return _json(_out(member, c.settings.public_url))

    @r.patch("/Users/{member_id}", operation_id="scim_patch_user")
    async def patch_user(
        member_id: str, request: Request, c: ContainerDep, who: ActorDep
    ) -> Response:
        try:
            body = await _body(request)
            operations = body.get("Operations")
            if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
                raise ValidationError("Operations must be a list of operations", field="Operations")
            member = c.scim.patch(who, member_id, operations)
        except PassgateError as exc:
            return _error(exc)
        return _json(_out(member, c.settings.public_url))

    @r.delete("/Users/{member_id}", operation_id="scim_delete_user")
    def delete_user(member_id: str, c: ContainerDep, who: ActorDep) -> Response:
        try:
            c.scim.deprovision(who, member_id)
        except PassgateError as exc:
            return _error(exc)
        return Response(status_code=204)

    return r
