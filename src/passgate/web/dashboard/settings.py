"""Dashboard > Settings: SSO and MFA values, API keys (token shown once), webhooks (secret
shown once, test delivery), the subscription. Every change goes through the same service
commands as the REST API (same validation, authorization and audit)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from passgate.domain.errors import PassgateError, ValidationError
from passgate.services.container import Container
from passgate.services.signin import sso as sso_config
from passgate.web import errors
from passgate.web.dashboard.auth import DashboardActor, check_csrf
from passgate.web.dashboard.pages import render
from passgate.web.deps import ContainerDep

Csrf = Annotated[str | None, Form(alias="csrf_token")]
Text = Annotated[str, Form(max_length=2000)]
LongText = Annotated[str, Form(max_length=100_000)]
PATH = "/dashboard/settings"


def _page(
    request: Request,
    c: Container,
    who: Any,
    *,
    status_code: int = 200,
    extra: dict[str, Any] | None = None,
    confirm_key: str | None = None,
    confirm_hook: str | None = None,
) -> HTMLResponse:
    view = c.organizations.own(who)
    sso = c.sso_commands.view(who)
    subscriptions = c.organizations.all_own_subscriptions(who)
    keys = sorted(c.api_keys.all(who), key=lambda k: k.created_at, reverse=True)
    hooks = sorted(c.webhooks.all(who), key=lambda h: h.created_at)
    return render(
        request,
        "settings.html",
        status_code=status_code,
        title="Settings",
        section="Settings",
        org=view.organization,
        eligibility=view.eligibility,
        sso=sso,
        subscriptions=subscriptions,
        keys=keys,
        hooks=hooks,
        confirm_key=next((k for k in keys if k.id == confirm_key), None),
        confirm_hook=next((h for h in hooks if h.id == confirm_hook), None),
        can_write=who.role in ("owner", "admin"),
        **(extra or {}),
    )


def _refused(
    request: Request,
    c: Container,
    who: Any,
    form: str,
    exc: PassgateError,
    submitted: dict[str, str] | None = None,
) -> Response:
    """The same page again, the error by the form it belongs to, nothing changed; what was
    typed stays in the form (secrets excepted)."""
    error = {"form": form, "field": exc.field, "message": exc.message}
    extra = {"error": error, "submitted": submitted}
    return _page(request, c, who, status_code=errors.status_for(exc), extra=extra)


def _done(message: str) -> RedirectResponse:
    # Post/redirect/get: a reload shows the page again instead of repeating the change.
    return RedirectResponse(f"{PATH}?done={quote(message)}", status_code=303)


def _lines(text: str) -> list[str]:
    return [x.strip() for x in text.replace(",", "\n").splitlines() if x.strip()]


def router() -> APIRouter:
    r = APIRouter(prefix=PATH, include_in_schema=False)

    @r.get("", response_class=HTMLResponse)
    def settings(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        confirm_key: Annotated[str | None, Query(max_length=40)] = None,
        confirm_hook: Annotated[str | None, Query(max_length=40)] = None,
    ) -> Response:
        return _page(request, c, who, confirm_key=confirm_key, confirm_hook=confirm_hook)

    @r.post("/sso")
    def settings_sso(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        protocol: Annotated[str, Form(max_length=10)],
        enabled: Annotated[str | None, Form(max_length=5)] = None,
        accepted_mfa: Text = "",
        issuer: Text = "",
        client_id: Text = "",
        client_secret: Text = "",
        scope: Text = "",
        max_auth_age_s: Annotated[str, Form(max_length=12)] = "",
        idp_entity_id: Text = "",
        idp_sso_url: Text = "",
        idp_certificate: LongText = "",
        email_attribute: Annotated[str, Form(max_length=200)] = "",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        try:
            values: dict[str, Any]
            if protocol == "oidc":
                values = {"issuer": issuer.strip(), "client_id": client_id.strip()}
                if scope.strip():
                    values["scope"] = scope.strip()
                if max_auth_age_s.strip():
                    if not max_auth_age_s.strip().isdigit():
                        raise ValidationError(
                            "max_auth_age_s must be a whole number of seconds",
                            field="max_auth_age_s",
                        )
                    values["max_auth_age_s"] = int(max_auth_age_s)
            else:
                values = {
                    "idp_entity_id": idp_entity_id.strip(),
                    "idp_sso_url": idp_sso_url.strip(),
                    "idp_certificate": idp_certificate.strip(),
                }
            if email_attribute.strip():
                values["email_attribute"] = email_attribute.strip()
            data = sso_config.ConnectionInput(
                protocol=protocol,
                enabled=enabled is not None,
                accepted_mfa=_lines(accepted_mfa) or None,
                settings={k: v for k, v in values.items() if v != ""},
                client_secret=client_secret or None,
            )
            c.sso_commands.put_connection(who, data)
        except PassgateError as exc:
            typed = {
                "issuer": issuer,
                "client_id": client_id,
                "scope": scope,
                "max_auth_age_s": max_auth_age_s,
                "idp_entity_id": idp_entity_id,
                "idp_sso_url": idp_sso_url,
                "idp_certificate": idp_certificate,
                "email_attribute": email_attribute,
                "accepted_mfa": accepted_mfa,
            }
            return _refused(request, c, who, "sso", exc, typed)
        return _done("SSO connection saved.")

    @r.post("/sso-flags")
    def settings_sso_flags(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        sso_enforced: Annotated[str | None, Form(max_length=5)] = None,
        mfa_required: Annotated[str | None, Form(max_length=5)] = None,
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        try:
            c.sso_commands.set_flags(
                who, sso_enforced=sso_enforced is not None, mfa_required=mfa_required is not None
            )
        except PassgateError as exc:
            return _refused(request, c, who, "flags", exc)
        return _done("Sign-in rules saved.")

    @r.post("/api-keys")
    def settings_create_api_key(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        name: Annotated[str, Form(max_length=200)] = "",
        role: Annotated[str, Form(max_length=20)] = "read_only",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        try:
            created = c.api_keys.create(who, name=name, role=role)
        except PassgateError as exc:
            return _refused(request, c, who, "api_key", exc)
        # The token is in this one answer only (no-store), never in a URL, a log or the database.
        shown = {"kind": "API key", "name": created.api_key.name, "value": created.token}
        return _page(request, c, who, status_code=201, extra={"shown_once": shown})

    @r.post("/api-keys/{api_key_id}/revoke")
    def settings_revoke_api_key(
        api_key_id: str, request: Request, c: ContainerDep, who: DashboardActor, csrf: Csrf = None
    ) -> Response:
        check_csrf(request, csrf)
        key = c.api_keys.revoke(who, api_key_id)
        return _done(f"API key {key.name} revoked.")

    @r.post("/webhooks")
    def settings_create_webhook(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        url: Text = "",
        event_types: Text = "",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        try:
            created = c.webhooks.create(who, url=url.strip(), event_types=_lines(event_types))
        except PassgateError as exc:
            return _refused(request, c, who, "webhook", exc)
        shown = {"kind": "Signing secret", "name": created.webhook.url, "value": created.secret}
        return _page(request, c, who, status_code=201, extra={"shown_once": shown})

    @r.post("/webhooks/{webhook_id}")
    def settings_update_webhook(
        webhook_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        url: Text = "",
        active: Annotated[str | None, Form(max_length=5)] = None,
        event_types: Text = "",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        changes = {
            "url": url.strip(),
            "active": active is not None,
            "event_types": sorted(set(_lines(event_types))),
        }
        try:
            c.webhooks.update(who, webhook_id, changes)
        except PassgateError as exc:
            return _refused(request, c, who, f"webhook:{webhook_id}", exc)
        return _done("Webhook saved.")

    @r.post("/webhooks/{webhook_id}/delete")
    def settings_delete_webhook(
        webhook_id: str, request: Request, c: ContainerDep, who: DashboardActor, csrf: Csrf = None
    ) -> Response:
        check_csrf(request, csrf)
        c.webhooks.delete(who, webhook_id)
        return _done("Webhook deleted.")

    @r.post("/webhooks/{webhook_id}/test")
    def settings_test_webhook(
        webhook_id: str, request: Request, c: ContainerDep, who: DashboardActor, csrf: Csrf = None
    ) -> Response:
        check_csrf(request, csrf)
        result = c.webhooks.test(who, webhook_id)
        if result.delivered:
            return _done(f"Test delivered to {result.webhook.url} ({result.outcome}).")
        extra = {
            "flash": f"Test not delivered to {result.webhook.url}: {result.outcome}.",
            "flash_kind": "bad",
        }
        return _page(request, c, who, extra=extra)

    return r
