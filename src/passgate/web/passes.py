"""REST routes for Apple Passes: the member's self-service add and the admin pages' API.

`POST /api/v1/me/apple_pass` is for the mobile app (an app session of a member, with
fresh MFA). Public keys are hex of the uncompressed P-256 point (130 characters).
The .pkpass files come back base64-encoded in the response.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from passgate.domain import model as m
from passgate.domain.passes import DeviceClaim, normalize_public_key
from passgate.services.actors import Actor
from passgate.services.container import Container
from passgate.services.credentials import pass_admin
from passgate.services.credentials.passes import ProvisionResult
from passgate.services.paging import COUNT_CAP
from passgate.web.api import API_PREFIX
from passgate.web.api.crud import ERRORS
from passgate.web.deps import (
    CURSOR_HEADERS,
    ActorDep,
    ContainerDep,
    CursorPageDep,
    set_page_headers,
)

PassId = Annotated[str, Path(min_length=1, max_length=40)]
DeviceText = Annotated[str, Field(min_length=1, max_length=100)]
Model = Annotated[str, Field(min_length=1, max_length=60)]
Version = Annotated[str, Field(min_length=1, max_length=20)]
PublicKey = Annotated[
    str, Field(min_length=130, max_length=130, description="P-256 uncompressed point, hex")
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IphoneIn(Body):
    device_id: DeviceText
    model: Model
    ios_version: Version
    app_version: Version
    public_key: PublicKey


class WatchIn(Body):
    device_id: DeviceText
    model: Model
    watchos_version: Version
    locked: StrictBool
    public_key: PublicKey


class ProvisionIn(Body):
    iphone: IphoneIn
    watch: WatchIn | None = None


class DeviceOut(BaseModel):
    id: str
    kind: str
    device_id: str
    model: str
    os_version: str
    app_version: str | None
    key_id: str
    status: str
    added_at: Any
    replaced_at: Any | None = None
    last_used_at: Any | None = None


class WatchOutcome(BaseModel):
    added: bool
    skipped_reason: str | None
    message: str | None


class ProvisionOut(BaseModel):
    pass_id: str
    status: str
    created: bool
    devices: list[DeviceOut]
    replaced: list[DeviceOut]
    watch: WatchOutcome | None
    serials: dict[str, str]
    pkpass_mime_type: str
    pkpass_base64: dict[str, str] = Field(description="kind (iphone/watch) -> signed .pkpass")


class PassRowOut(BaseModel):
    id: str
    member_id: str
    member_name: str
    member_email: str
    status: str
    devices: Literal["iphone", "watch", "both", "none"]
    serial_number: str
    added_at: Any
    last_used_at: Any | None


class PassDetailOut(PassRowOut):
    device_list: list[DeviceOut]
    registrations: list[dict[str, Any]]
    logs: list[dict[str, Any]]
    events: list[dict[str, Any]]


def _device(d: m.PassDevice) -> dict[str, Any]:
    return {k: v for k, v in d.__dict__.items() if k in DeviceOut.model_fields}


def _provision_out(res: ProvisionResult) -> dict[str, Any]:
    watch = None
    if res.watch_skipped is not None:
        watch = WatchOutcome(
            added=False,
            skipped_reason=res.watch_skipped,
            message="The Apple Watch was locked, so the pass was added to the iPhone only. "
            "Unlock the watch and add the pass again to put it there.",
        )
    elif any(d.kind == "watch" for d in res.added):
        watch = WatchOutcome(added=True, skipped_reason=None, message=None)
    return {
        "pass_id": res.apple_pass.id,
        "status": res.apple_pass.status,
        "created": res.created,
        "devices": [_device(d) for d in res.devices],
        "replaced": [_device(d) for d in res.replaced],
        "watch": watch,
        "serials": res.serials,
        "pkpass_mime_type": "application/vnd.apple.pkpass",
        "pkpass_base64": {k: base64.b64encode(v).decode() for k, v in res.pkpasses.items()},
    }


def _row_out(row: pass_admin.PassRow) -> dict[str, Any]:
    p = row.apple_pass
    return {
        "id": p.id,
        "member_id": p.member_id,
        "member_name": row.member.display_name,
        "member_email": row.member.email,
        "status": p.status,
        "devices": row.devices,
        "serial_number": p.serial_number,
        "added_at": p.created_at,
        "last_used_at": row.last_used_at,
    }


def _provision(c: Container, who: Actor, body: ProvisionIn) -> ProvisionResult:
    iphone = DeviceClaim(
        kind="iphone",
        device_id=body.iphone.device_id,
        model=body.iphone.model,
        os_version=body.iphone.ios_version,
        app_version=body.iphone.app_version,
        public_key=normalize_public_key(body.iphone.public_key, "iphone.public_key"),
    )
    watch = None
    if body.watch is not None:
        watch = DeviceClaim(
            kind="watch",
            device_id=body.watch.device_id,
            model=body.watch.model,
            os_version=body.watch.watchos_version,
            public_key=normalize_public_key(body.watch.public_key, "watch.public_key"),
            locked=body.watch.locked,
        )
    return c.provisioning.provision(who, iphone=iphone, watch=watch)


def router() -> APIRouter:
    r = APIRouter(prefix=API_PREFIX, tags=["apple passes"])

    @r.post(
        "/me/apple_pass",
        response_model=ProvisionOut,
        operation_id="provision_apple_pass",
        summary="Add your Apple Pass to your iPhone (and unlocked Apple Watch)",
        responses=ERRORS,
    )
    def provision(c: ContainerDep, who: ActorDep, body: ProvisionIn) -> dict[str, Any]:
        return _provision_out(_provision(c, who, body))

    @r.get(
        "/apple_passes",
        response_model=list[PassRowOut],
        operation_id="list_apple_passes",
        summary="The organization's Apple Passes",
        description="Newest first. Paged by `cursor` (see the X-Next-Cursor and Link "
        f"headers); X-Total-Count is exact up to {COUNT_CAP:,} matches (more: "
        "X-Total-Count-Exceeds).",
        responses={**ERRORS, 200: {"headers": CURSOR_HEADERS}},
    )
    def list_passes(
        c: ContainerDep,
        who: ActorDep,
        pg: CursorPageDep,
        request: Request,
        response: Response,
        status: Literal["active", "suspended", "deleted"] | None = None,
        device: Literal["iphone", "watch", "both", "none"] | None = None,
        q: Annotated[str | None, Query(max_length=200, description="member name or email")] = None,
    ) -> list[dict[str, Any]]:
        page = c.pass_list.page(
            who,
            status=status,
            device=device,
            search=q,
            limit=pg.limit,
            offset=pg.offset,
            cursor=pg.cursor,
        )
        set_page_headers(request, response, pass_admin.PASS_LIST, page)
        return [_row_out(x) for x in page.items]

    @r.get(
        "/apple_passes/{apple_pass_id}",
        response_model=PassDetailOut,
        operation_id="get_apple_pass",
        summary="One Apple Pass: devices, Wallet registrations, logs, recent events",
        responses=ERRORS,
    )
    def get_pass(c: ContainerDep, who: ActorDep, apple_pass_id: PassId) -> dict[str, Any]:
        d = c.pass_commands.detail(who, apple_pass_id)
        return {
            **_row_out(d.row),
            "device_list": [_device(x) for x in d.devices],
            "registrations": [
                {
                    "device_library_id": x.device_library_id,
                    "serial": x.serial,
                    "registered_at": x.created_at.isoformat(),
                    "updated_at": x.updated_at.isoformat(),
                }
                for x in d.registrations
            ],
            "logs": [{"at": x.created_at.isoformat(), "message": x.message} for x in d.logs],
            "events": [
                {
                    "id": e.id,
                    "type": e.type,
                    "occurred_at": e.occurred_at.isoformat(),
                    "actor_type": e.actor_type,
                    "actor_name": e.actor_name,
                    "granted": e.granted,
                    "reason": e.reason,
                    "session_id": e.data.get("session_id"),
                }
                for e in d.events
            ],
        }

    @r.post(
        "/apple_passes/{apple_pass_id}/suspend",
        response_model=PassRowOut,
        operation_id="suspend_apple_pass",
        summary="Suspend: taps denied, Wallet copies marked suspended, until resumed",
        responses=ERRORS,
    )
    def suspend(c: ContainerDep, who: ActorDep, apple_pass_id: PassId) -> dict[str, Any]:
        return _row_out(c.pass_commands.change(who, apple_pass_id, "suspend"))

    @r.post(
        "/apple_passes/{apple_pass_id}/resume",
        response_model=PassRowOut,
        operation_id="resume_apple_pass",
        summary="Resume a suspended pass",
        responses=ERRORS,
    )
    def resume(c: ContainerDep, who: ActorDep, apple_pass_id: PassId) -> dict[str, Any]:
        return _row_out(c.pass_commands.change(who, apple_pass_id, "resume"))

    @r.delete(
        "/apple_passes/{apple_pass_id}",
        response_model=PassRowOut,
        operation_id="delete_apple_pass",
        summary="Delete for good: device keys revoked, Wallet copies voided",
        responses=ERRORS,
    )
    def delete(c: ContainerDep, who: ActorDep, apple_pass_id: PassId) -> dict[str, Any]:
        return _row_out(c.pass_commands.change(who, apple_pass_id, "delete"))

    return r
