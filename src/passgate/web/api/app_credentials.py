"""REST API v1: the mobile app's own credentials (R27, MotionSense).

The app registers its key (``/me/app_credentials``, app session); admins list, suspend,
resume and delete (``/app_credentials``). Routes only translate; the service owns the
transaction and the rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from passgate.domain import model as m
from passgate.web.api import API_PREFIX
from passgate.web.api.crud import ERRORS
from passgate.web.api.schemas import Body
from passgate.web.deps import ActorDep, ContainerDep, PageDep, set_total

CredentialId = Annotated[str, Path(min_length=1, max_length=40)]


class RegisterIn(Body):
    public_key: str = Field(
        min_length=130, max_length=130, description="The app's P-256 key: uncompressed point, hex"
    )
    device_id: str = Field(
        min_length=1, max_length=100, description="The phone, as the app names it"
    )


class ReaderGroupOut(BaseModel):
    group_identifier: str = Field(description="Aliro reader group identifier (16 bytes, hex)")
    public_key: str = Field(description="The group key readers prove themselves with (hex point)")


class AppCredentialOut(BaseModel):
    id: str
    member_id: str
    device_id: str
    key_id: str = Field(description="SHA-256 of the public key, hex: how readers name it")
    status: Literal["active", "suspended", "deleted"]
    created_at: datetime
    suspended_at: datetime | None
    deleted_at: datetime | None
    last_used_at: datetime | None


class RegisteredOut(AppCredentialOut):
    reader_groups: list[ReaderGroupOut] = Field(
        description="The reader groups the app must trust in the Bluetooth exchange"
    )


def _out(cred: m.AppCredential) -> dict[str, Any]:
    return {
        "id": cred.id,
        "member_id": cred.member_id,
        "device_id": cred.device_id,
        "key_id": cred.key_id,
        "status": cred.status,
        "created_at": cred.created_at,
        "suspended_at": cred.suspended_at,
        "deleted_at": cred.deleted_at,
        "last_used_at": cred.last_used_at,
    }


def router() -> APIRouter:
    r = APIRouter(prefix=API_PREFIX, tags=["app credentials"])

    @r.post(
        "/me/app_credentials",
        response_model=RegisteredOut,
        status_code=201,
        operation_id="register_app_credential",
        summary="The mobile app registers its own key (MotionSense over Bluetooth)",
        responses=ERRORS,
    )
    def register(c: ContainerDep, who: ActorDep, body: RegisterIn) -> dict[str, Any]:
        done = c.app_credentials.register(who, public_key=body.public_key, device_id=body.device_id)
        groups = [{"group_identifier": g, "public_key": k} for g, k in done.reader_groups]
        return {**_out(done.credential), "reader_groups": groups}

    @r.delete(
        "/me/app_credentials/{app_credential_id}",
        response_model=AppCredentialOut,
        operation_id="delete_my_app_credential",
        summary="Sign-out: the app's credential on this phone is deleted",
        responses=ERRORS,
    )
    def delete_mine(
        c: ContainerDep, who: ActorDep, app_credential_id: CredentialId
    ) -> dict[str, Any]:
        return _out(c.app_credentials.delete_own(who, app_credential_id))

    @r.get(
        "/app_credentials",
        response_model=list[AppCredentialOut],
        operation_id="list_app_credentials",
        summary="The organization's app credentials",
        responses=ERRORS,
    )
    def list_all(
        c: ContainerDep,
        who: ActorDep,
        pg: PageDep,
        response: Response,
        status: Literal["active", "suspended", "deleted"] | None = None,
        member_id: Annotated[str | None, Query(max_length=40)] = None,
    ) -> list[dict[str, Any]]:
        rows, total = c.app_credentials.page(
            who, status=status, member_id=member_id, limit=pg.limit, offset=pg.offset
        )
        set_total(response, total)
        return [_out(x) for x in rows]

    @r.get(
        "/app_credentials/{app_credential_id}",
        response_model=AppCredentialOut,
        operation_id="get_app_credential",
        summary="One app credential",
        responses=ERRORS,
    )
    def get_one(c: ContainerDep, who: ActorDep, app_credential_id: CredentialId) -> dict[str, Any]:
        return _out(c.app_credentials.get(who, app_credential_id))

    def _action(name: str, summary: str) -> None:
        @r.post(
            f"/app_credentials/{{app_credential_id}}/{name}",
            response_model=AppCredentialOut,
            operation_id=f"{name}_app_credential",
            summary=summary,
            responses=ERRORS,
        )
        def act(c: ContainerDep, who: ActorDep, app_credential_id: CredentialId) -> dict[str, Any]:
            return _out(c.app_credentials.change(who, app_credential_id, name))

    _action("suspend", "Suspend: Bluetooth unlocks denied until resumed")
    _action("resume", "Resume a suspended app credential")

    @r.delete(
        "/app_credentials/{app_credential_id}",
        response_model=AppCredentialOut,
        operation_id="delete_app_credential",
        summary="Delete for good: readers deny the key",
        responses=ERRORS,
    )
    def delete(c: ContainerDep, who: ActorDep, app_credential_id: CredentialId) -> dict[str, Any]:
        return _out(c.app_credentials.change(who, app_credential_id, "delete"))

    return r
