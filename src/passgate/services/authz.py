"""Who may call what (R26): one declared rule per operation, checked before the use case runs.

Every operation of the REST API, the SCIM endpoint and the dashboard has an entry in
``POLICY``, keyed by its operation id. The web layer asks ``authorize`` for the
route's entry before it hands the caller to a route, and a route without an entry is
refused (fail closed), so a new operation cannot ship open by omission: the role
matrix test also fails for it. The service functions keep their own checks
(``require_write``, ``require_operator``, fresh MFA) for callers other than HTTP.

Principals, from the authenticated ``Actor``:

- ``operator``: the service operator's key.
- ``owner`` / ``admin``: a member's browser session with that role; ``admin`` is also
  an admin API key.
- ``read_only``: a read-only API key, or the browser session of a member with the
  read_only role (auditors): reads everything, changes nothing.
- ``member_app``: any member's mobile-app session (an app session acts as the member
  only, whatever their role).
- ``member_browser``: the browser session of a member without an admin role.

A member (either session) reaches only ``/me`` operations: their profile, their own
pass and devices, their own access and their own taps.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from passgate.domain.errors import PermissionDenied
from passgate.services.actors import Actor, ActorKind


class Principal(StrEnum):
    OPERATOR = "operator"
    OWNER = "owner"
    ADMIN = "admin"
    READ_ONLY = "read_only"
    MEMBER_APP = "member_app"
    MEMBER_BROWSER = "member_browser"


@dataclass(frozen=True)
class Rule:
    principals: frozenset[Principal]
    # The operation acts on "me": only a member's session has one (an API key has none).
    session_only: bool = False

    def allows(self, principal: Principal, *, is_session: bool) -> bool:
        return principal in self.principals and (is_session or not self.session_only)


_P = Principal
OPERATOR = Rule(frozenset({_P.OPERATOR}))
READ = Rule(frozenset({_P.OWNER, _P.ADMIN, _P.READ_ONLY}))
WRITE = Rule(frozenset({_P.OWNER, _P.ADMIN}))
# Any signed-in member acting on what is theirs.
SELF = Rule(
    frozenset({_P.OWNER, _P.ADMIN, _P.READ_ONLY, _P.MEMBER_APP, _P.MEMBER_BROWSER}),
    session_only=True,
)
# R4: a pass is added through the mobile app only.
APP_ONLY = Rule(frozenset({_P.MEMBER_APP}), session_only=True)
# The dashboard is for the organization's admins, signed in with SSO.
# Its forms change things: owners and admins only.
DASHBOARD = Rule(frozenset({_P.OWNER, _P.ADMIN}), session_only=True)
# Its pages: an auditor (read_only role) sees them too, without the forms.
DASHBOARD_READ = Rule(frozenset({_P.OWNER, _P.ADMIN, _P.READ_ONLY}), session_only=True)
# A member's own dashboard page and sign-out: any browser session (an app token never).
DASHBOARD_SELF = Rule(
    frozenset({_P.OWNER, _P.ADMIN, _P.READ_ONLY, _P.MEMBER_BROWSER}), session_only=True
)

_CRUD_READ = ("list_{plural}", "get_{one}")
_CRUD_WRITE = ("create_{one}", "update_{one}", "delete_{one}")
_CRUD = {
    "places": "place",
    "schedules": "schedule",
    "doors": "door",
    "readers": "reader",
    "groups": "group",
    "members": "member",
    "access_rights": "access_right",
}


def _crud() -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for plural, one in _CRUD.items():
        for name in _CRUD_READ:
            out[name.format(plural=plural, one=one)] = READ
        for name in _CRUD_WRITE:
            out[name.format(plural=plural, one=one)] = WRITE
    return out


def crud_operation(verb: str, one: str) -> str:
    """The operation id of ``verb`` (list, get, create, update, delete) on a kind of object
    named ``one`` (``place``): what a service checks for the generic configuration commands."""
    if verb == "list":
        plural = next((p for p, o in _CRUD.items() if o == one), None)
        if plural is None:
            raise PermissionDenied(f"{one!r} is not a kind of configuration object")
        return f"list_{plural}"
    return f"{verb}_{one}"


POLICY: dict[str, Rule] = {
    **_crud(),
    # Configuration beyond plain objects.
    "get_group_doors": READ,
    "set_group_doors": WRITE,
    "clear_reader_tamper": WRITE,
    "set_place_lockdown": WRITE,
    "unlock_door": WRITE,
    "get_door_command": READ,
    "create_reader_pairing_code": WRITE,
    # The organization itself, its keys, webhooks, events.
    "get_own_organization": READ,
    "list_own_subscriptions": READ,
    "list_api_keys": READ,
    "create_api_key": WRITE,
    "revoke_api_key": WRITE,
    "list_webhooks": READ,
    "get_webhook": READ,
    "create_webhook": WRITE,
    "update_webhook": WRITE,
    "delete_webhook": WRITE,
    "test_webhook": WRITE,
    "list_events": READ,
    "get_event": READ,
    # SSO configuration (the service also asks a member session for fresh MFA; the
    # operator bootstraps it through the operator_ variants below).
    "get_sso": READ,
    "put_sso_connection": WRITE,
    "delete_sso_connection": WRITE,
    "patch_sso_settings": WRITE,
    # Apple Passes, the administrators' side.
    "list_apple_passes": READ,
    "get_apple_pass": READ,
    "suspend_apple_pass": WRITE,
    "resume_apple_pass": WRITE,
    "delete_apple_pass": WRITE,
    # The mobile app's own credentials (R27), the administrators' side.
    "list_app_credentials": READ,
    "get_app_credential": READ,
    "suspend_app_credential": WRITE,
    "resume_app_credential": WRITE,
    "delete_app_credential": WRITE,
    # The operator.
    "create_organization": OPERATOR,
    "list_organizations": OPERATOR,
    "get_organization": OPERATOR,
    "grant_subscription": OPERATOR,
    "list_subscriptions": OPERATOR,
    "update_subscription": OPERATOR,
    "create_org_api_key": OPERATOR,
    "operator_put_sso_connection": OPERATOR,
    "operator_patch_sso_settings": OPERATOR,
    # A member's own things.
    "get_me": SELF,
    "get_my_apple_pass": SELF,
    "get_my_access": SELF,
    "list_my_events": SELF,
    "provision_apple_pass": APP_ONLY,
    "register_app_credential": APP_ONLY,
    "delete_my_app_credential": APP_ONLY,
    "app_logout": SELF,
    "browser_logout": SELF,
    # SCIM provisioning: the IdP's token is an admin API key.
    "scim_list_users": WRITE,
    "scim_get_user": WRITE,
    "scim_create_user": WRITE,
    "scim_replace_user": WRITE,
    "scim_patch_user": WRITE,
    "scim_delete_user": WRITE,
    # Dashboard pages and forms (dashboard_<view function>).
    "dashboard_overview": DASHBOARD_READ,
    "dashboard_door_list": DASHBOARD_READ,
    "dashboard_reader_list": DASHBOARD_READ,
    "dashboard_reader_clear_tamper": DASHBOARD,
    "dashboard_event_log": DASHBOARD_READ,
    "dashboard_event_chart": DASHBOARD_READ,
    # A download of what the events page shows: reading, as the page itself.
    "dashboard_event_export": DASHBOARD_READ,
    "dashboard_people": DASHBOARD_READ,
    "dashboard_add_person": DASHBOARD,
    "dashboard_group_list": DASHBOARD_READ,
    "dashboard_add_group": DASHBOARD,
    "dashboard_give_access": DASHBOARD,
    "dashboard_settings": DASHBOARD_READ,
    "dashboard_settings_sso": DASHBOARD,
    "dashboard_settings_sso_flags": DASHBOARD,
    "dashboard_settings_create_api_key": DASHBOARD,
    "dashboard_settings_revoke_api_key": DASHBOARD,
    "dashboard_settings_create_webhook": DASHBOARD,
    "dashboard_settings_update_webhook": DASHBOARD,
    "dashboard_settings_delete_webhook": DASHBOARD,
    "dashboard_settings_test_webhook": DASHBOARD,
    "dashboard_logout": DASHBOARD_SELF,
    "dashboard_my_page": DASHBOARD_SELF,
    "dashboard_pass_list": DASHBOARD_READ,
    "dashboard_pass_page": DASHBOARD_READ,
    "dashboard_pass_action": DASHBOARD,
    "dashboard_app_credential_list": DASHBOARD_READ,
    "dashboard_app_credential_action": DASHBOARD,
    # Administration of the building's objects (web/dashboard/admin).
    "dashboard_place_list": DASHBOARD_READ,
    "dashboard_place_page": DASHBOARD_READ,
    "dashboard_door_new": DASHBOARD_READ,
    "dashboard_door_page": DASHBOARD_READ,
    "dashboard_place_create": DASHBOARD,
    "dashboard_place_update": DASHBOARD,
    "dashboard_place_lockdown": DASHBOARD,
    "dashboard_place_delete": DASHBOARD,
    "dashboard_door_create": DASHBOARD,
    "dashboard_door_update": DASHBOARD,
    "dashboard_door_lockdown": DASHBOARD,
    "dashboard_door_unlock": DASHBOARD,
    "dashboard_door_delete": DASHBOARD,
    "dashboard_reader_new": DASHBOARD_READ,
    "dashboard_reader_page": DASHBOARD_READ,
    "dashboard_reader_create": DASHBOARD,
    "dashboard_reader_update": DASHBOARD,
    "dashboard_reader_tamper_protection": DASHBOARD,
    "dashboard_reader_pairing_code": DASHBOARD,
    "dashboard_reader_delete": DASHBOARD,
    "dashboard_schedule_list": DASHBOARD_READ,
    "dashboard_schedule_page": DASHBOARD_READ,
    "dashboard_schedule_create": DASHBOARD,
    "dashboard_schedule_update": DASHBOARD,
    "dashboard_schedule_add_holiday": DASHBOARD,
    "dashboard_schedule_remove_holiday": DASHBOARD,
    "dashboard_schedule_delete": DASHBOARD,
    "dashboard_group_page": DASHBOARD_READ,
    "dashboard_group_update": DASHBOARD,
    "dashboard_group_delete": DASHBOARD,
    "dashboard_group_add_access": DASHBOARD,
    "dashboard_access_update": DASHBOARD,
    "dashboard_access_delete": DASHBOARD,
    "dashboard_person_page": DASHBOARD_READ,
    "dashboard_person_update": DASHBOARD,
    "dashboard_person_status": DASHBOARD,
    "dashboard_person_delete": DASHBOARD,
    "dashboard_person_add_access": DASHBOARD,
}

# Operations anyone may call without signing in: they authenticate by what they carry
# (a one-time code and PKCE verifier, a reader pairing code).
PUBLIC: frozenset[str] = frozenset({"app_token", "pair_reader"})


def principal_of(actor: Actor) -> Principal:
    if actor.kind is ActorKind.OPERATOR:
        return Principal.OPERATOR
    if actor.kind is ActorKind.API_KEY:
        return Principal.ADMIN if actor.role == "admin" else Principal.READ_ONLY
    if actor.kind is ActorKind.MEMBER:
        if actor.session_kind == "app":
            return Principal.MEMBER_APP
        if actor.role in ("owner", "admin", "read_only"):
            return Principal(actor.role)
        return Principal.MEMBER_BROWSER
    raise PermissionDenied("this caller cannot use the API")


def rule_for(operation: str) -> Rule:
    rule = POLICY.get(operation)
    if rule is None:
        # Fail closed: an operation nobody declared is open to nobody.
        raise PermissionDenied(f"operation {operation!r} has no declared roles")
    return rule


def authorize(actor: Actor, operation: str) -> Actor:
    """``actor`` if its role may call ``operation``; PermissionDenied otherwise."""
    rule = rule_for(operation)
    principal = principal_of(actor)
    if not rule.allows(principal, is_session=actor.session_id is not None):
        if rule.session_only and principal in rule.principals:
            raise PermissionDenied(f"{operation} acts on a signed-in member; an API key has none")
        if principal in (Principal.MEMBER_APP, Principal.MEMBER_BROWSER):
            raise PermissionDenied("a member may only see and change what is theirs (/me)")
        raise PermissionDenied(f"role {principal.value!r} may not call {operation}")
    return actor
