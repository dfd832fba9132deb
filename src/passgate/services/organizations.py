"""The operator's commands: organizations and their subscriptions; eligibility (R1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from passgate.domain import model as m
from passgate.domain.eligibility import Eligibility, SubscriptionView, apple_pass_eligibility
from passgate.domain.errors import Conflict, ValidationError
from passgate.domain.validation import validate_slug, validate_window
from passgate.services.actors import Actor
from passgate.services.authz import authorize
from passgate.services.events import audit, summarize
from passgate.services.ports import Clock, UnitOfWork, UnitOfWorkFactory


def create_organization(
    uow_factory: UnitOfWorkFactory, actor: Actor, *, name: str, slug: str, now: datetime
) -> m.Organization:
    actor.require_operator()
    if not name.strip():
        raise ValidationError("name must not be blank", field="name")
    validate_slug(slug)
    org = m.Organization(id=m.new_id("org"), name=name.strip(), slug=slug, created_at=now)
    with uow_factory(None) as uow:
        if uow.organizations.find_by_slug(slug) is not None:
            raise Conflict("slug is already taken by another organization", field="slug")
        uow.organizations.add(org)
        audit(
            uow,
            actor,
            org_id=org.id,
            type="organization.created",
            object_type="organization",
            object_id=org.id,
            now=now,
            after=summarize(org),
        )
    return org


def grant_subscription(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    *,
    org_id: str,
    kind: str,
    status: str,
    valid_from: datetime,
    valid_until: datetime | None,
    now: datetime,
) -> m.Subscription:
    actor.require_operator()
    kinds = {k.value for k in m.SubscriptionKind}
    if kind not in kinds:
        raise ValidationError(f"kind must be one of: {', '.join(sorted(kinds))}", field="kind")
    statuses = {s.value for s in m.SubscriptionStatus}
    if status not in statuses:
        raise ValidationError(
            f"status must be one of: {', '.join(sorted(statuses))}", field="status"
        )
    validate_window(valid_from, valid_until)
    with uow_factory(org_id) as uow:
        uow.organizations.get(org_id)
        sub = m.Subscription(
            id=m.new_id("sub"),
            org_id=org_id,
            kind=kind,
            status=status,
            valid_from=valid_from,
            valid_until=valid_until,
            created_at=now,
        )
        uow.repo(m.Subscription).add(sub)
        audit(
            uow,
            actor,
            org_id=org_id,
            type="subscription.granted",
            object_type="subscription",
            object_id=sub.id,
            now=now,
            after=summarize(sub),
        )
    return sub


def set_subscription_status(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    *,
    org_id: str,
    subscription_id: str,
    status: str | None,
    valid_until: datetime | None,
    clear_valid_until: bool,
    now: datetime,
) -> m.Subscription:
    actor.require_operator()
    with uow_factory(org_id) as uow:
        repo = uow.repo(m.Subscription)
        sub = repo.get(subscription_id)
        before = summarize(sub)
        if status is not None:
            if status not in {s.value for s in m.SubscriptionStatus}:
                raise ValidationError("status must be active, pending or cancelled", field="status")
            sub.status = status
        if valid_until is not None or clear_valid_until:
            sub.valid_until = valid_until
            validate_window(sub.valid_from, sub.valid_until)
        repo.update(sub)
        audit(
            uow,
            actor,
            org_id=org_id,
            type="subscription.updated",
            object_type="subscription",
            object_id=sub.id,
            now=now,
            before=before,
            after=summarize(sub),
        )
    return sub


@dataclass(frozen=True)
class OrganizationOverview:
    organization: m.Organization
    eligibility: Eligibility


def sso_configured(uow: UnitOfWork, _org: m.Organization) -> bool:
    return uow.repo(m.SsoConnection).count(enabled=True) > 0


def eligibility_of(uow: UnitOfWork, org: m.Organization, now: datetime) -> Eligibility:
    subs = [
        SubscriptionView(
            kind=s.kind, status=s.status, valid_from=s.valid_from, valid_until=s.valid_until
        )
        for s in uow.repo(m.Subscription).all_where()
    ]
    return apple_pass_eligibility(
        sso_configured=sso_configured(uow, org),
        sso_enforced=org.sso_enforced,
        mfa_required=org.mfa_required,
        subscriptions=subs,
        now=now,
    )


def overview(uow: UnitOfWork, org_id: str, now: datetime) -> OrganizationOverview:
    org = uow.organizations.get(org_id)
    return OrganizationOverview(organization=org, eligibility=eligibility_of(uow, org, now))


@dataclass(frozen=True)
class OrganizationCommands:
    """The organization and its subscriptions as whole commands, for its admins (API,
    dashboard) and for the operator (API, CLI): each checks the caller's role, owns its
    transaction and reads the clock."""

    uow_factory: UnitOfWorkFactory
    clock: Clock

    def own(self, actor: Actor) -> OrganizationOverview:
        """The caller's organization and its Apple Pass eligibility."""
        authorize(actor, "get_own_organization")
        org_id = actor.require_org()
        with self.uow_factory(org_id, write=False) as uow:
            return overview(uow, org_id, self.clock.now())

    def banner(self, actor: Actor) -> OrganizationOverview:
        """What every dashboard page shows any signed-in member of the organization: its
        name and whether Apple Passes work right now."""
        org_id = actor.require_org()
        with self.uow_factory(org_id, write=False) as uow:
            return overview(uow, org_id, self.clock.now())

    def record(self, actor: Actor) -> m.Organization:
        """The caller's organization row alone."""
        authorize(actor, "get_own_organization")
        org_id = actor.require_org()
        with self.uow_factory(org_id, write=False) as uow:
            return uow.organizations.get(org_id)

    def own_subscriptions(
        self, actor: Actor, *, limit: int, offset: int = 0
    ) -> tuple[list[m.Subscription], int]:
        authorize(actor, "list_own_subscriptions")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return uow.repo(m.Subscription).list(limit=limit, offset=offset)

    def all_own_subscriptions(self, actor: Actor) -> list[m.Subscription]:
        authorize(actor, "list_own_subscriptions")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return list(uow.repo(m.Subscription).all_where())

    # --- the operator's ---
    def create(self, actor: Actor, *, name: str, slug: str) -> m.Organization:
        authorize(actor, "create_organization")
        return create_organization(
            self.uow_factory, actor, name=name, slug=slug, now=self.clock.now()
        )

    def page(
        self, actor: Actor, *, limit: int, offset: int = 0
    ) -> tuple[list[m.Organization], int]:
        authorize(actor, "list_organizations")
        actor.require_operator()
        with self.uow_factory(None, write=False) as uow:
            return uow.organizations.list(limit=limit, offset=offset)

    def get(self, actor: Actor, org_id: str) -> OrganizationOverview:
        authorize(actor, "get_organization")
        actor.require_operator()
        with self.uow_factory(org_id, write=False) as uow:
            return overview(uow, org_id, self.clock.now())

    def grant_subscription(
        self,
        actor: Actor,
        org_id: str,
        *,
        kind: str,
        status: str,
        valid_from: datetime,
        valid_until: datetime | None,
    ) -> m.Subscription:
        authorize(actor, "grant_subscription")
        return grant_subscription(
            self.uow_factory,
            actor,
            org_id=org_id,
            kind=kind,
            status=status,
            valid_from=valid_from,
            valid_until=valid_until,
            now=self.clock.now(),
        )

    def subscriptions(
        self, actor: Actor, org_id: str, *, limit: int, offset: int = 0
    ) -> tuple[list[m.Subscription], int]:
        authorize(actor, "list_subscriptions")
        actor.require_operator()
        with self.uow_factory(org_id, write=False) as uow:
            uow.organizations.get(org_id)
            return uow.repo(m.Subscription).list(limit=limit, offset=offset)

    def update_subscription(
        self,
        actor: Actor,
        org_id: str,
        subscription_id: str,
        *,
        status: str | None,
        valid_until: datetime | None,
        clear_valid_until: bool,
    ) -> m.Subscription:
        authorize(actor, "update_subscription")
        return set_subscription_status(
            self.uow_factory,
            actor,
            org_id=org_id,
            subscription_id=subscription_id,
            status=status,
            valid_until=valid_until,
            clear_valid_until=clear_valid_until,
            now=self.clock.now(),
        )

    def event(self, actor: Actor, event_id: str) -> m.Event:
        """One record of the organization's event log."""
        authorize(actor, "get_event")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return uow.events.get(event_id)
