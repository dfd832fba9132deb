"""REST API v1, operator side: organizations, subscriptions, first API keys."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from passgate.domain import model as m
from passgate.services import organizations
from passgate.services.auth import apikeys
from passgate.web.api import API_PREFIX
from passgate.web.api import schemas as s
from passgate.web.api.admin import organization_view
from passgate.web.api.crud import ERRORS
from passgate.web.deps import ActorDep, ContainerDep, PageDep, set_total

OrgId = Annotated[str, Path(min_length=1, max_length=40)]
SubId = Annotated[str, Path(min_length=1, max_length=40)]
TAG: list[str | Enum] = ["operator"]


def router() -> APIRouter:
    r = APIRouter(prefix=API_PREFIX)

    @r.post(
        "/organizations",
        response_model=s.OrganizationOut,
        status_code=201,
        tags=TAG,
        operation_id="create_organization",
        summary="Create an organization (operator)",
        responses=ERRORS,
    )
    def create_org(body: s.OrganizationCreate, c: ContainerDep, who: ActorDep) -> m.Organization:
        return organizations.create_organization(
            c.uow_factory, who, name=body.name, slug=body.slug, now=c.clock.now()
        )

    @r.get(
        "/organizations",
        response_model=list[s.OrganizationOut],
        tags=TAG,
        operation_id="list_organizations",
        summary="List organizations (operator)",
        responses=ERRORS,
    )
    def list_orgs(
        c: ContainerDep, who: ActorDep, pg: PageDep, response: Response
    ) -> list[m.Organization]:
        who.require_operator()
        with c.uow_factory(None, write=False) as uow:
            items, total = uow.organizations.list(limit=pg.limit, offset=pg.offset)
        set_total(response, total)
        return items

    @r.get(
        "/organizations/{org_id}",
        response_model=s.OrganizationView,
        tags=TAG,
        operation_id="get_organization",
        summary="Read an organization (operator)",
        responses=ERRORS,
    )
    def get_org(org_id: OrgId, c: ContainerDep, who: ActorDep) -> dict[str, Any]:
        who.require_operator()
        return organization_view(c, org_id)

    @r.post(
        "/organizations/{org_id}/subscriptions",
        response_model=s.SubscriptionOut,
        status_code=201,
        tags=TAG,
        operation_id="grant_subscription",
        summary="Grant a subscription (operator)",
        responses=ERRORS,
    )
    def grant(
        org_id: OrgId, body: s.SubscriptionCreate, c: ContainerDep, who: ActorDep
    ) -> m.Subscription:
        return organizations.grant_subscription(
            c.uow_factory,
            who,
            org_id=org_id,
            kind=body.kind,
            status=body.status,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            now=c.clock.now(),
        )

    @r.get(
        "/organizations/{org_id}/subscriptions",
        response_model=list[s.SubscriptionOut],
        tags=TAG,
        operation_id="list_subscriptions",
        summary="An organization's subscriptions (operator)",
        responses=ERRORS,
    )
    def list_subs(
        org_id: OrgId, c: ContainerDep, who: ActorDep, pg: PageDep, response: Response
    ) -> list[m.Subscription]:
        who.require_operator()
        with c.uow_factory(org_id, write=False) as uow:
            uow.organizations.get(org_id)
            items, total = uow.repo(m.Subscription).list(limit=pg.limit, offset=pg.offset)
        set_total(response, total)
        return items

    @r.patch(
        "/organizations/{org_id}/subscriptions/{subscription_id}",
        response_model=s.SubscriptionOut,
        tags=TAG,
        operation_id="update_subscription",
        summary="Change a subscription's status or end (operator)",
        responses=ERRORS,
    )
    def update_sub(
        org_id: OrgId,
        subscription_id: SubId,
        body: s.SubscriptionUpdate,
        c: ContainerDep,
        who: ActorDep,
    ) -> m.Subscription:
        given = body.model_dump(exclude_unset=True)
        return organizations.set_subscription_status(
            c.uow_factory,
            who,
            org_id=org_id,
            subscription_id=subscription_id,
            status=given.get("status"),
            valid_until=given.get("valid_until"),
            clear_valid_until="valid_until" in given and given["valid_until"] is None,
            now=c.clock.now(),
        )

    @r.post(
        "/organizations/{org_id}/api_keys",
        response_model=s.ApiKeyCreated,
        status_code=201,
        tags=TAG,
        operation_id="create_org_api_key",
        summary="Create an organization's API key (operator); the token is shown once",
        responses=ERRORS,
    )
    def create_key(
        org_id: OrgId, body: s.OperatorApiKeyCreate, c: ContainerDep, who: ActorDep
    ) -> dict[str, Any]:
        who.require_operator()
        with c.uow_factory(org_id) as uow:
            created = apikeys.create_api_key(
                uow, who, org_id=org_id, name=body.name, role=body.role, now=c.clock.now()
            )
        return {**created.api_key.__dict__, "token": created.token}

    return r
