"""REST API v1, operator side: organizations, subscriptions, first API keys."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from passgate.domain import model as m
from passgate.web.api import API_PREFIX
from passgate.web.api import schemas as s
from passgate.web.api.admin import organization_view, paged
from passgate.web.api.crud import ERRORS
from passgate.web.deps import ActorDep, ContainerDep, PageDep

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
        return c.organizations.create(who, name=body.name, slug=body.slug)

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
        return paged(response, c.organizations.page(who, limit=pg.limit, offset=pg.offset))

    @r.get(
        "/organizations/{org_id}",
        response_model=s.OrganizationView,
        tags=TAG,
        operation_id="get_organization",
        summary="Read an organization (operator)",
        responses=ERRORS,
    )
    def get_org(org_id: OrgId, c: ContainerDep, who: ActorDep) -> dict[str, Any]:
        return organization_view(c.organizations.get(who, org_id))

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
        return c.organizations.grant_subscription(
            who,
            org_id,
            kind=body.kind,
            status=body.status,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
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
        return paged(
            response, c.organizations.subscriptions(who, org_id, limit=pg.limit, offset=pg.offset)
        )

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
        return c.organizations.update_subscription(
            who,
            org_id,
            subscription_id,
            status=given.get("status"),
            valid_until=given.get("valid_until"),
            clear_valid_until="valid_until" in given and given["valid_until"] is None,
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
        created = c.api_keys.create_for(who, org_id, name=body.name, role=body.role)
        return {**created.api_key.__dict__, "token": created.token}

    return r
