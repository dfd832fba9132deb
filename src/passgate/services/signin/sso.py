"""An organization's SSO configuration: its connection, accepted MFA values, enforced / MFA flags.

Changing any of it changes who can open doors (R1, R3), so it takes an admin:
an admin API key (bootstrap, before SSO works), the operator, or a member's
browser session whose MFA login is fresh. Every change is an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from passgate.domain import model as m
from passgate.domain.errors import NotFound, PermissionDenied, PreconditionFailed, ValidationError
from passgate.domain.sso import Protocol, default_accepted_mfa
from passgate.services.actors import Actor, ActorKind
from passgate.services.auth.sessions import IssuedSession, SessionPolicy, end_session
from passgate.services.authz import authorize
from passgate.services.events import audit
from passgate.services.ports import Clock, SecretBox, UnitOfWork, UnitOfWorkFactory
from passgate.services.signin.sso_app import exchange_code

OIDC_FIELDS = ("issuer", "client_id", "scope", "max_auth_age_s")
SAML_FIELDS = ("idp_entity_id", "idp_sso_url", "idp_certificate", "idp_metadata_xml")
SHARED_FIELDS = ("email_attribute",)
DEFAULT_SCOPE = "openid email profile"
DEFAULT_MAX_AUTH_AGE_S = 3600


@dataclass(frozen=True)
class ConnectionInput:
    protocol: str
    enabled: bool
    accepted_mfa: list[str] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    client_secret: str | None = None  # OIDC confidential clients; sealed at rest


def authorize_change(uow: UnitOfWork, actor: Actor, now: datetime, mfa_max_age: timedelta) -> str:
    """The operator, or an admin of the unit of work's organization; a member session
    must also carry a fresh, IdP-proven MFA login (SSO settings decide who opens doors)."""
    org_id = uow.org_id
    if org_id is None:
        raise PermissionDenied("SSO settings belong to an organization")
    if actor.is_operator:
        return org_id
    actor.require_write()
    if actor.require_org() != org_id:
        raise PermissionDenied("SSO settings of another organization")
    if actor.kind is ActorKind.MEMBER:
        actor.require_fresh_mfa(now, mfa_max_age)
    return org_id


def _validated_settings(data: ConnectionInput, *, allow_local_issuer: bool) -> dict[str, Any]:
    s = {k: v for k, v in data.settings.items() if v is not None}
    if data.protocol == Protocol.OIDC:
        for name in ("issuer", "client_id"):
            if not s.get(name):
                raise ValidationError(f"{name} is required for an OIDC connection", field=name)
        issuer = str(s["issuer"])
        # A plain-http issuer lets anyone on the path swap the keys that sign ID tokens;
        # the development IdP on loopback is the one exception, in development mode only.
        local = allow_local_issuer and issuer.startswith(("http://127.0.0.1", "http://localhost"))
        if not issuer.startswith("https://") and not local:
            raise ValidationError("issuer must be an https URL", field="issuer")
        s.setdefault("scope", DEFAULT_SCOPE)
        if "openid" not in str(s["scope"]).split():
            raise ValidationError("scope must include openid", field="scope")
        s.setdefault("max_auth_age_s", DEFAULT_MAX_AUTH_AGE_S)
        unknown = set(s) - set(OIDC_FIELDS) - set(SHARED_FIELDS)
    elif data.protocol == Protocol.SAML:
        if not s.get("idp_metadata_xml"):
            for name in ("idp_entity_id", "idp_sso_url", "idp_certificate"):
                if not s.get(name):
                    raise ValidationError(
                        f"{name} is required unless idp_metadata_xml is given", field=name
                    )
        if not s.get("idp_entity_id"):
            raise ValidationError("idp_entity_id is required", field="idp_entity_id")
        unknown = set(s) - set(SAML_FIELDS) - set(SHARED_FIELDS)
    else:
        raise ValidationError("protocol must be oidc or saml", field="protocol")
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"{name} does not apply to {data.protocol} connections", field=name)
    s.setdefault("email_attribute", "email")
    return s


def view(uow: UnitOfWork, org_id: str) -> dict[str, Any]:
    org = uow.organizations.get(org_id)
    conns = uow.repo(m.SsoConnection).all_where()
    conn = conns[0] if conns else None
    return {
        "sso_enforced": org.sso_enforced,
        "mfa_required": org.mfa_required,
        "connection": None
        if conn is None
        else {
            "id": conn.id,
            "protocol": conn.protocol,
            "enabled": conn.enabled,
            "settings": conn.settings,
            "accepted_mfa": conn.accepted_mfa,
            "has_client_secret": conn.secret_sealed is not None,
            "updated_at": conn.updated_at,
        },
    }


def put_connection(
    uow: UnitOfWork,
    actor: Actor,
    data: ConnectionInput,
    *,
    box: SecretBox,
    now: datetime,
    mfa_max_age: timedelta,
    allow_local_issuer: bool = False,
) -> m.SsoConnection:
    """``allow_local_issuer``: development mode, where the dev IdP runs on loopback http."""
    org_id = authorize_change(uow, actor, now, mfa_max_age)
    settings = _validated_settings(data, allow_local_issuer=allow_local_issuer)
    accepted = data.accepted_mfa if data.accepted_mfa is not None else None
    if accepted is not None and any(not a.strip() for a in accepted):
        raise ValidationError("accepted_mfa values must not be blank", field="accepted_mfa")
    repo = uow.repo(m.SsoConnection)
    existing = repo.all_where()
    org = uow.organizations.get(org_id)
    if existing and org.sso_enforced and not data.enabled:
        raise PreconditionFailed(
            "SSO is enforced; turn sso_enforced off before disabling the connection",
            code="sso_enforced",
            field="enabled",
        )
    sealed = box.seal(data.client_secret.encode()) if data.client_secret else None
    if existing:
        conn = existing[0]
        before = _summary(conn)
        if conn.protocol == data.protocol and sealed is None:
            sealed = conn.secret_sealed  # keep the secret unless a new one is given
        conn.protocol = data.protocol
        conn.enabled = data.enabled
        conn.settings = settings
        conn.secret_sealed = sealed
        conn.accepted_mfa = accepted or default_accepted_mfa(data.protocol)
        conn.updated_at = now
        repo.update(conn)
        kind = "sso.connection_updated"
    else:
        before = None
        conn = m.SsoConnection(
            id=m.new_id("sso"),
            org_id=org_id,
            protocol=data.protocol,
            enabled=data.enabled,
            settings=settings,
            secret_sealed=sealed,
            accepted_mfa=accepted or default_accepted_mfa(data.protocol),
            created_at=now,
            updated_at=now,
        )
        repo.add(conn)
        kind = "sso.connection_created"
    audit(
        uow,
        actor,
        org_id=org_id,
        type=kind,
        object_type="sso_connection",
        object_id=conn.id,
        now=now,
        before=before,
        after=_summary(conn),
    )
    return conn


def delete_connection(
    uow: UnitOfWork, actor: Actor, *, now: datetime, mfa_max_age: timedelta
) -> None:
    org_id = authorize_change(uow, actor, now, mfa_max_age)
    repo = uow.repo(m.SsoConnection)
    existing = repo.all_where()
    if not existing:
        raise NotFound("this organization has no SSO connection", field="connection")
    if uow.organizations.get(org_id).sso_enforced:
        raise PreconditionFailed(
            "SSO is enforced; turn sso_enforced off before removing the connection",
            code="sso_enforced",
        )
    repo.delete(existing[0].id)
    audit(
        uow,
        actor,
        org_id=org_id,
        type="sso.connection_deleted",
        object_type="sso_connection",
        object_id=existing[0].id,
        now=now,
        before=_summary(existing[0]),
    )


def set_flags(
    uow: UnitOfWork,
    actor: Actor,
    *,
    sso_enforced: bool | None,
    mfa_required: bool | None,
    now: datetime,
    mfa_max_age: timedelta,
) -> m.Organization:
    org_id = authorize_change(uow, actor, now, mfa_max_age)
    org = uow.organizations.get(org_id)
    before = {"sso_enforced": org.sso_enforced, "mfa_required": org.mfa_required}
    if sso_enforced:
        enabled = uow.repo(m.SsoConnection).all_where(enabled=True)
        if not enabled:
            raise PreconditionFailed(
                "configure and enable an SSO connection before enforcing SSO",
                code="sso_not_configured",
                field="sso_enforced",
            )
    if sso_enforced is not None:
        org.sso_enforced = sso_enforced
    if mfa_required is not None:
        org.mfa_required = mfa_required
    uow.organizations.update(org)
    audit(
        uow,
        actor,
        org_id=org_id,
        type="sso.settings_changed",
        object_type="organization",
        object_id=org_id,
        now=now,
        before=before,
        after={"sso_enforced": org.sso_enforced, "mfa_required": org.mfa_required},
    )
    return org


def _summary(conn: m.SsoConnection) -> dict[str, Any]:
    # Never the sealed secret: only whether one is set.
    return {
        "protocol": conn.protocol,
        "enabled": conn.enabled,
        "settings": {k: v for k, v in conn.settings.items() if k != "idp_metadata_xml"},
        "accepted_mfa": list(conn.accepted_mfa),
        "has_client_secret": conn.secret_sealed is not None,
    }


@dataclass(frozen=True)
class SsoCommands:
    """Signing in and its configuration as whole commands (API, dashboard, operator):
    each checks the caller's role (and, for a change by a member, fresh MFA), owns its
    transaction and reads the clock. A change answers with the configuration view."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    box: SecretBox
    mfa_max_age: timedelta
    # Development mode, where the dev IdP runs on loopback http.
    allow_local_issuer: bool
    app_policy: SessionPolicy

    def _org(self, actor: Actor, org_id: str | None, own: str, operator: str) -> str:
        if org_id is None:
            authorize(actor, own)
            return actor.require_org()
        authorize(actor, operator)
        actor.require_operator()
        return org_id

    def view(self, actor: Actor) -> dict[str, Any]:
        authorize(actor, "get_sso")
        org_id = actor.require_org()
        with self.uow_factory(org_id, write=False) as uow:
            return view(uow, org_id)

    def put_connection(
        self, actor: Actor, data: ConnectionInput, *, org_id: str | None = None
    ) -> dict[str, Any]:
        """The caller's organization's connection, or (the operator) ``org_id``'s."""
        org_id = self._org(actor, org_id, "put_sso_connection", "operator_put_sso_connection")
        now = self.clock.now()
        with self.uow_factory(org_id) as uow:
            uow.organizations.get(org_id)
            put_connection(
                uow,
                actor,
                data,
                box=self.box,
                now=now,
                mfa_max_age=self.mfa_max_age,
                allow_local_issuer=self.allow_local_issuer,
            )
            return view(uow, org_id)

    def set_flags(
        self,
        actor: Actor,
        *,
        sso_enforced: bool | None,
        mfa_required: bool | None,
        org_id: str | None = None,
    ) -> dict[str, Any]:
        org_id = self._org(actor, org_id, "patch_sso_settings", "operator_patch_sso_settings")
        now = self.clock.now()
        with self.uow_factory(org_id) as uow:
            uow.organizations.get(org_id)
            set_flags(
                uow,
                actor,
                sso_enforced=sso_enforced,
                mfa_required=mfa_required,
                now=now,
                mfa_max_age=self.mfa_max_age,
            )
            return view(uow, org_id)

    def delete_connection(self, actor: Actor) -> None:
        authorize(actor, "delete_sso_connection")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            delete_connection(uow, actor, now=now, mfa_max_age=self.mfa_max_age)

    def app_token(self, *, code: str, code_verifier: str, redirect_uri: str) -> IssuedSession:
        """The app trades its one-time code and PKCE verifier for a session (public: the
        code is the credential)."""
        return exchange_code(
            self.uow_factory,
            code=code,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
            policy=self.app_policy,
            now=self.clock.now(),
        )

    def sign_out(self, actor: Actor) -> None:
        """End the caller's own session (browser or app); nothing for a caller without one."""
        if actor.session_id is None:
            return
        authorize(actor, "app_logout" if actor.session_kind == "app" else "browser_logout")
        with self.uow_factory(actor.require_org()) as uow:
            end_session(uow, actor, actor.session_id, self.clock.now())
