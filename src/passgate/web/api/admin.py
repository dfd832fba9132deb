"""REST API v1: the organization itself, its API keys, webhooks, subscriptions and events."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from passgate.domain import model as m
from passgate.domain.errors import ValidationError
from passgate.services.events import EVENT_LIST, EventFilter
from passgate.services.organizations import OrganizationOverview
from passgate.services.paging import COUNT_CAP
from passgate.web.api import API_PREFIX
from passgate.web.api import schemas as s
from passgate.web.api.crud import ERRORS
from passgate.web.deps import (
    CURSOR_HEADERS,
    ActorDep,
    ContainerDep,
    CursorPageDep,
    PageDep,
    set_page_headers,
    set_total,
)

KeyId = Annotated[str, Path(min_length=1, max_length=40)]
T = TypeVar("T")
HookId = Annotated[str, Path(min_length=1, max_length=40)]
EventId = Annotated[str, Path(min_length=1, max_length=40)]


def event_filter(
    category: Literal["access", "audit"] | None = None,
    type: Annotated[str | None, Query(max_length=60)] = None,
    door_id: Annotated[str | None, Query(max_length=40)] = None,
    member_id: Annotated[str | None, Query(max_length=40)] = None,
    reader_id: Annotated[str | None, Query(max_length=40)] = None,
    granted: bool | None = None,
    reason: Annotated[str | None, Query(max_length=40)] = None,
    since: Annotated[s.Instant | None, Query(description="occurred at or after")] = None,
    until: Annotated[s.Instant | None, Query(description="occurred before")] = None,
) -> EventFilter:
    return EventFilter(
        category=category,
        type=type,
        door_id=door_id,
        member_id=member_id,
        reader_id=reader_id,
        granted=granted,
        reason=reason,
        since=since,
        until=until,
    )


def organization_view(view: OrganizationOverview) -> dict[str, Any]:
    return {
        **view.organization.__dict__,
        "apple_pass_eligible": view.eligibility.eligible,
        "eligibility_reasons": list(view.eligibility.reasons),
    }


def paged(response: Response, found: tuple[list[T], int]) -> list[T]:
    """One page of rows, the total in the header."""
    items, total = found
    set_total(response, total)
    return items


def router() -> APIRouter:
    r = APIRouter(prefix=API_PREFIX)

    @r.get(
        "/organization",
        response_model=s.OrganizationView,
        tags=["organization"],
        operation_id="get_own_organization",
        summary="Your organization and its Apple Pass eligibility",
        responses=ERRORS,
    )
    def get_organization(c: ContainerDep, who: ActorDep) -> dict[str, Any]:
        return organization_view(c.organizations.own(who))

    @r.get(
        "/subscriptions",
        response_model=list[s.SubscriptionOut],
        tags=["organization"],
        operation_id="list_own_subscriptions",
        summary="Your organization's subscriptions",
        responses=ERRORS,
    )
    def list_subscriptions(
        c: ContainerDep, who: ActorDep, pg: PageDep, response: Response
    ) -> list[m.Subscription]:
        return paged(
            response, c.organizations.own_subscriptions(who, limit=pg.limit, offset=pg.offset)
        )

    @r.get(
        "/api_keys",
        response_model=list[s.ApiKeyOut],
        tags=["api keys"],
        operation_id="list_api_keys",
        summary="List API keys (secrets are never shown again)",
        responses=ERRORS,
    )
    def list_keys(
        c: ContainerDep, who: ActorDep, pg: PageDep, response: Response
    ) -> list[m.ApiKey]:
        return paged(response, c.api_keys.page(who, limit=pg.limit, offset=pg.offset))

    @r.post(
        "/api_keys",
        response_model=s.ApiKeyCreated,
        status_code=201,
        tags=["api keys"],
        operation_id="create_api_key",
        summary="Create an API key; its token is shown once",
        responses=ERRORS,
    )
    def create_key(body: s.ApiKeyCreate, c: ContainerDep, who: ActorDep) -> dict[str, Any]:
        created = c.api_keys.create(who, name=body.name, role=body.role)
        return {**created.api_key.__dict__, "token": created.token}

    @r.delete(
        "/api_keys/{api_key_id}",
        status_code=204,
        tags=["api keys"],
        operation_id="revoke_api_key",
        summary="Revoke an API key",
        responses=ERRORS,
        response_class=Response,
    )
    def revoke_key(api_key_id: KeyId, c: ContainerDep, who: ActorDep) -> Response:
        c.api_keys.revoke(who, api_key_id)
        return Response(status_code=204)

    @r.get(
        "/webhooks",
        response_model=list[s.WebhookOut],
        tags=["webhooks"],
        operation_id="list_webhooks",
        summary="List webhooks",
        responses=ERRORS,
    )
    def list_hooks(
        c: ContainerDep, who: ActorDep, pg: PageDep, response: Response
    ) -> list[m.Webhook]:
        return paged(response, c.webhooks.page(who, limit=pg.limit, offset=pg.offset))

    @r.post(
        "/webhooks",
        response_model=s.WebhookCreated,
        status_code=201,
        tags=["webhooks"],
        operation_id="create_webhook",
        summary="Subscribe a URL to events; its secret is shown once",
        responses=ERRORS,
    )
    def create_hook(body: s.WebhookCreate, c: ContainerDep, who: ActorDep) -> dict[str, Any]:
        created = c.webhooks.create(who, url=body.url, event_types=body.event_types)
        return {**created.webhook.__dict__, "secret": created.secret}

    @r.get(
        "/webhooks/{webhook_id}",
        response_model=s.WebhookOut,
        tags=["webhooks"],
        operation_id="get_webhook",
        summary="Read a webhook",
        responses=ERRORS,
    )
    def get_hook(webhook_id: HookId, c: ContainerDep, who: ActorDep) -> m.Webhook:
        return c.webhooks.get(who, webhook_id)

    @r.patch(
        "/webhooks/{webhook_id}",
        response_model=s.WebhookOut,
        tags=["webhooks"],
        operation_id="update_webhook",
        summary="Change a webhook",
        responses=ERRORS,
    )
    def update_hook(
        webhook_id: HookId, body: s.WebhookUpdate, c: ContainerDep, who: ActorDep
    ) -> m.Webhook:
        changes = body.model_dump(exclude_unset=True)
        for key, value in changes.items():
            if value is None:
                raise ValidationError(f"{key} cannot be null", field=key)
        if "event_types" in changes:
            changes["event_types"] = sorted(set(changes["event_types"]))
        return c.webhooks.update(who, webhook_id, changes)

    @r.post(
        "/webhooks/{webhook_id}/test",
        response_model=s.WebhookTestOut,
        tags=["webhooks"],
        operation_id="test_webhook",
        summary="Send a signed test delivery to a webhook now",
        responses=ERRORS,
    )
    def test_hook(webhook_id: HookId, c: ContainerDep, who: ActorDep) -> s.WebhookTestOut:
        result = c.webhooks.test(who, webhook_id)
        return s.WebhookTestOut(
            webhook_id=result.webhook.id,
            url=result.webhook.url,
            delivered=result.delivered,
            outcome=result.outcome,
        )

    @r.delete(
        "/webhooks/{webhook_id}",
        status_code=204,
        tags=["webhooks"],
        operation_id="delete_webhook",
        summary="Delete a webhook",
        responses=ERRORS,
        response_class=Response,
    )
    def delete_hook(webhook_id: HookId, c: ContainerDep, who: ActorDep) -> Response:
        c.webhooks.delete(who, webhook_id)
        return Response(status_code=204)

    @r.get(
        "/events",
        response_model=list[s.EventOut],
        tags=["events"],
        operation_id="list_events",
        summary="The event log: access decisions and audit records, newest first",
        description="Newest first by occurred_at. Paged by `cursor` (see the X-Next-Cursor "
        f"and Link headers); X-Total-Count is exact up to {COUNT_CAP:,} matches (more: "
        "X-Total-Count-Exceeds).",
        responses={**ERRORS, 200: {"headers": CURSOR_HEADERS}},
    )
    def list_events(
        c: ContainerDep,
        who: ActorDep,
        pg: CursorPageDep,
        request: Request,
        response: Response,
        query: Annotated[EventFilter, Depends(event_filter)],
    ) -> list[m.Event]:
        page = c.event_log.page(who, query, limit=pg.limit, cursor=pg.cursor, offset=pg.offset)
        set_page_headers(request, response, EVENT_LIST, page)
        return page.items

    @r.get(
        "/events/{event_id}",
        response_model=s.EventOut,
        tags=["events"],
        operation_id="get_event",
        summary="Read one event",
        responses=ERRORS,
    )
    def get_event(event_id: EventId, c: ContainerDep, who: ActorDep) -> m.Event:
        return c.organizations.event(who, event_id)

    return r
