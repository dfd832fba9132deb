"""The OpenAPI document, completed: security schemes, who may call what, descriptions, examples.

FastAPI generates the paths and schemas from the routes and models. This module adds
what a reader of the API needs and the generator cannot know:

- the ``bearer`` security scheme (API keys, the operator key, app session tokens) and
  the ``session_cookie`` one (dashboard sessions, with the CSRF header); public
  operations (``authz.PUBLIC``) say they need neither;
- on every operation, the callers the role table (``services/authz.py``) admits, as the
  ``x-passgate-roles`` list and a sentence of its description;
- a description for every operation that does not carry one in its route (the route's
  own docstring or ``description=`` wins), and for every schema field that does not
  carry one in its model, from the field names the API uses throughout;
- an example of every request body; the ``X-Total-Count`` header of list responses;
  the payload of webhook deliveries (``webhooks.event``); error responses as the API
  really sends them (``ErrorBody``), never FastAPI's unused default validation schema.

``tests/web/test_openapi_quality.py`` fails on an operation or field left without a
description, so a new endpoint documents itself before it ships.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from passgate.proto import webhook as wh
from passgate.services import authz

BEARER = "bearer"
SESSION_COOKIE = "session_cookie"

# --- operations -------------------------------------------------------------------------

# The configuration objects share five generated operations (web/api/crud.py).
RESOURCES: dict[str, tuple[str, str]] = {
    "places": ("place", "A site with a time zone, holding doors."),
    "schedules": (
        "schedule",
        "Weekly time windows and holidays during which access is valid, in the door's time zone.",
    ),
    "doors": (
        "door",
        "An entrance in a place; `apple_pass` tells whether it can be opened with an Apple "
        "Pass and why not.",
    ),
    "readers": (
        "reader",
        "An NFC / Bluetooth reader mounted at a door, run by a paired reader agent.",
    ),
    "groups": (
        "group",
        "A set of doors (optionally with a schedule) that access rights grant together.",
    ),
    "members": ("member", "A person of the organization: their role and status."),
    "access_rights": (
        "access right",
        "A member's right to open a group's doors, optionally between two instants.",
    ),
}


def _article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _crud_descriptions() -> dict[str, str]:
    out: dict[str, str] = {}
    for plural, (one, what) in RESOURCES.items():
        key = one.replace(" ", "_")
        label = plural.replace("_", " ")
        out[f"list_{plural}"] = (
            f"{what} Lists the organization's {label}, oldest first, one page at a time; "
            "the total is in the `X-Total-Count` header."
        )
        out[f"create_{key}"] = (
            f"{what} Creates {_article(one)}; the change is recorded in the event log."
        )
        out[f"get_{key}"] = f"{what} Reads one {one} by its id (404 if it is not yours)."
        out[f"update_{key}"] = (
            f"{what} Changes the fields sent and keeps the others; `null` clears an optional "
            "field. Recorded in the event log with the values before and after."
        )
        out[f"delete_{key}"] = (
            f"{what} Deletes the {one}; refused (409) while other objects still refer to it."
        )
    return out


OPERATIONS: dict[str, str] = {
    **_crud_descriptions(),
    "delete_member": (
        "A person of the organization. Deletes the member: their Apple Passes are deleted "
        "(devices revoked, Wallet copies voided, readers told), their app credentials "
        "deleted, their sessions revoked and their access rights removed, in one "
        "transaction recorded as a `member.deleted` audit event. The member stays on "
        "record with status `deleted` and their name, so past events still show it; "
        "the e-mail address is released for a new member. Refused (409) for yourself "
        "and for a member already deleted."
    ),
    # The operator (the service's own key).
    "create_organization": "Creates a tenant; its slug names it in SSO and dashboard URLs.",
    "list_organizations": "Lists every organization on this server, one page at a time.",
    "get_organization": "Reads one organization with its SSO flags.",
    "grant_subscription": (
        "Grants the organization a subscription; an active Apple Pass subscription is one of "
        "the conditions for issuing passes (R2)."
    ),
    "list_subscriptions": "Lists the subscriptions of one organization.",
    "update_subscription": "Changes a subscription's status or the instant it ends.",
    "create_org_api_key": (
        "Creates an API key for an organization, typically its first admin key. The token "
        "is in this response only; the server keeps a hash."
    ),
    # The organization, its keys, webhooks and events.
    "get_own_organization": (
        "Your organization, and whether it may issue Apple Passes now "
        "(`apple_pass_eligible`, with the reasons when not)."
    ),
    "list_own_subscriptions": "Your organization's subscriptions.",
    "list_api_keys": "Lists the organization's API keys; their tokens are never shown again.",
    "create_api_key": (
        "Creates an API key with the `admin` or `read_only` role. The token is in this "
        "response only; the server keeps a hash."
    ),
    "revoke_api_key": "Revokes an API key at once; requests with it then answer 401.",
    "list_webhooks": "Lists the organization's webhook subscriptions (without their secrets).",
    "create_webhook": (
        "Subscribes an https or http URL to events (all of them when `event_types` is "
        "empty). Deliveries are POSTs of the event (see `webhooks.event`), signed with "
        "HMAC-SHA256 in the `Passgate-Signature` header; the secret is in this response "
        "only. Loopback, private and metadata addresses are refused unless the operator "
        "allows them."
    ),
    "get_webhook": "Reads one webhook subscription (without its secret).",
    "update_webhook": "Changes a webhook's URL, event types or whether it is active.",
    "delete_webhook": "Deletes a webhook subscription; queued deliveries to it are dropped.",
    "test_webhook": (
        "Sends one `webhook.test` message to the webhook now, signed like a real delivery "
        "(`Passgate-Signature`, `Passgate-Delivery`) and through the same address check; "
        "answers whether it was delivered and how. The test is recorded as a "
        "`webhook.tested` audit event with its outcome; a paused webhook is tested too."
    ),
    "list_events": (
        "The event log: access decisions (taps) and audit records of every change, newest "
        "first, filtered by the query parameters; the total is in `X-Total-Count`."
    ),
    "get_event": "Reads one event of the log.",
    # Configuration beyond plain objects.
    "get_group_doors": "The ids of the doors a group opens.",
    "set_group_doors": "Replaces the set of doors a group opens with the ids sent.",
    "clear_reader_tamper": (
        "After a tamper alarm, a reader with tamper protection stops unlocking and erases "
        "its keys (R14); this brings it back into service once an admin has checked it."
    ),
    "unlock_door": (
        "Opens the door now through one of its readers (remote unlock): answers 202 with "
        "a command that the reader carries out within 30 seconds or never; follow it with "
        "`GET /api/v1/door_commands/{command_id}`. Refused (409, `code` naming the rule) "
        "when the door is locked down (`door_lockdown`), has no reader (`no_reader`), or "
        "every reader is tampered (`reader_tampered`) or offline (`reader_offline`). "
        "Recorded as a `door.unlock_requested` audit event; the reader reports a "
        "`door.unlocked_remotely` or `door.remote_unlock_refused` access event."
    ),
    "get_door_command": (
        "The state of a remote unlock command: pending, sent, done, failed or expired, "
        "with the reader's reason."
    ),
    "create_reader_pairing_code": (
        "A one-time code (valid ten minutes) that a reader agent trades for its identity "
        "with `POST /reader/v1/pair`; shown in this response only."
    ),
    "pair_reader": (
        "A reader agent sends its pairing code and public keys and receives its reader id, "
        "door and the server's public key. Needs no credentials: the code is the proof, "
        "and it works once."
    ),
    # A member's own things.
    "get_me": "The signed-in member's profile.",
    "get_my_apple_pass": "The signed-in member's Apple Pass and the devices it is on.",
    "provision_apple_pass": (
        "Adds the member's Apple Pass to the iPhone sending it (and to a paired Apple Watch "
        "if it is unlocked). From the mobile app only, after a recent MFA sign-in (R4); the "
        "response carries the signed passes to hand to Wallet."
    ),
    "get_my_access": "The doors the member may open now, through which group, and when.",
    "list_my_events": "The member's own taps (access decisions), newest first.",
    # Apple Passes, the administrators' side.
    "list_apple_passes": "Lists the organization's Apple Passes with their member and status.",
    "get_apple_pass": (
        "One Apple Pass: its devices and their keys, Wallet registrations, Wallet logs and "
        "recent events."
    ),
    "delete_apple_pass": (
        "Deletes a pass for good: its device keys are revoked at every reader and the Wallet "
        "copies are voided by push."
    ),
    "suspend_apple_pass": (
        "Suspends a pass: readers deny its taps and the Wallet copies show it suspended, "
        "until it is resumed."
    ),
    "resume_apple_pass": "Resumes a suspended pass: readers accept its keys again.",
    # The mobile app's own credentials (R27).
    "register_app_credential": (
        "The mobile app registers the public key it keeps on this phone, used to unlock "
        "over Bluetooth (MotionSense). A key is never registered twice."
    ),
    "delete_my_app_credential": (
        "Sign-out on a phone: the app's credential there is deleted and readers deny its key."
    ),
    "list_app_credentials": "Lists the organization's app credentials.",
    "get_app_credential": "Reads one app credential.",
    "delete_app_credential": "Deletes an app credential for good: readers deny its key.",
    "suspend_app_credential": "Suspends an app credential: Bluetooth unlocks are denied.",
    "resume_app_credential": "Resumes a suspended app credential.",
}

_PRINCIPAL_WORDS = {
    authz.Principal.OPERATOR: "the operator key",
    authz.Principal.OWNER: "owners",
    authz.Principal.ADMIN: "admins (session or admin API key)",
    authz.Principal.READ_ONLY: "read-only API keys",
    authz.Principal.MEMBER_APP: "members in the mobile app",
    authz.Principal.MEMBER_BROWSER: "members in a browser session",
}


def _roles_sentence(operation_id: str) -> tuple[list[str], str]:
    if operation_id in authz.PUBLIC:
        return [], "No credentials: anyone may call it."
    rule = authz.POLICY.get(operation_id)
    if rule is None:  # undeclared: refused to everyone (the role matrix test fails on it)
        return [], ""
    order = list(authz.Principal)
    names = sorted(rule.principals, key=order.index)
    words = [_PRINCIPAL_WORDS[p] for p in names]
    text = "Who may call it: " + ", ".join(words) + "."
    if rule.session_only:
        text += " A session is required (an API key has no member)."
    return [str(p) for p in names], text


# --- fields -----------------------------------------------------------------------------

# By field name, wherever it appears; ``Schema.field`` entries win over the name alone.
FIELDS: dict[str, str] = {
    "id": "Identifier, a type prefix and 24 hexadecimal digits",
    "created_at": "When it was created (UTC)",
    "name": "Name shown in the dashboard and the event log",
    "org_id": "The organization's id",
    "member_id": "The member's id",
    "door_id": "The door's id",
    "reader_id": "The reader's id",
    "group_id": "The group's id",
    "place_id": "Id of the place the door belongs to",
    "schedule_id": "Id of the schedule limiting when it applies; null: at any time",
    "credential_id": "Id of the device key or app credential used",
    "status": "Current state",
    "role": "Role, which decides what the caller may do (R26)",
    "valid_from": "Start of validity (UTC); null: from now on",
    "valid_until": "End of validity (UTC); null: open-ended",
    "last_used_at": "Last time it was used (UTC); null: never",
    "added_at": "When it was added (UTC)",
    "replaced_at": "When another device replaced it (UTC); null: still current",
    "suspended_at": "When it was suspended (UTC); null: not suspended",
    "deleted_at": "When it was deleted (UTC); null: not deleted",
    "revoked_at": "When it was revoked (UTC); null: still valid",
    "expires_at": "When it stops working (UTC)",
    "timezone": "IANA time zone name (e.g. Europe/Berlin) schedules are read in",
    "address": "Postal address, free text",
    "description": "Free text for administrators",
    "email": "Email address; unique in the organization",
    "display_name": "The person's name as shown",
    "external_id": "The identity provider's id for the person (SCIM externalId)",
    "lockdown": "When true, the door opens for no one",
    "staleness_limit_s": (
        "Seconds a reader may decide from its cache without hearing from the server; "
        "past that it denies (cache_stale)"
    ),
    "apple_pass": "Whether Apple Passes can open it now, and why not",
    "ready": "True when nothing stands in the way",
    "reasons": "What stands in the way, one sentence each (empty when ready)",
    "tamper_protection": "Stop unlocking and erase keys when the reader's tamper switch trips",
    "tampered": "The tamper switch tripped; cleared by an admin (clear-tamper)",
    "online": "Whether the reader agent is connected now",
    "last_seen_at": "Last time the reader agent was heard from (UTC)",
    "firmware": "Firmware version the reader reports",
    "model": "Hardware model",
    "windows": "Weekly time windows during which access is valid",
    "holidays": "Dates (ISO 8601) on which the schedule grants nothing",
    "weekday": "Day of the week: 0 = Monday .. 6 = Sunday",
    "start": "Local start time, HH:MM",
    "end": "Local end time, HH:MM; at or before start means it ends the next day",
    "door_ids": "Ids of the doors",
    "url": "Where deliveries are POSTed",
    "event_types": "Event types delivered; empty: all of them",
    "active": "Whether deliveries are made",
    "category": "access (a tap's decision) or audit (a change)",
    "type": "Event type, e.g. access.granted or door.updated",
    "occurred_at": "When it happened (UTC), as the reader or server saw it",
    "recorded_at": "When the server stored it (UTC)",
    "actor_type": "Kind of caller that made the change: member, api_key, operator, reader",
    "actor_id": "Id of the caller that made the change",
    "actor_name": "Name of the caller at the time",
    "object_type": "Kind of object the event is about",
    "object_id": "Id of the object the event is about",
    "granted": "For taps: whether the door opened",
    "reason": "For taps: why it was granted or denied",
    "data": "Details of the event: for changes, the values before and after",
    "slug": "Short lower-case name used in URLs (SSO sign-in, dashboard)",
    "sso_enforced": "Members must sign in with the organization's SSO",
    "mfa_required": "Sign-ins must prove multi-factor authentication",
    "apple_pass_eligible": "Whether the organization may issue Apple Passes now (R2)",
    "eligibility_reasons": "Why it may not, one sentence each (empty when eligible)",
    "kind": "Kind of object",
    "device_id": "Identifier the device reports for itself",
    "os_version": "Operating system version the device reported",
    "app_version": "Version of the mobile app",
    "ios_version": "iOS version of the iPhone",
    "watchos_version": "watchOS version of the Apple Watch",
    "locked": "Whether the watch is locked (a locked watch gets no pass)",
    "public_key": "Uncompressed P-256 public key (04 || X || Y), 130 hexadecimal characters",
    "key_id": "Identifier of the device key, derived from its public key",
    "serial_number": "The pass's serial number in Wallet",
    "devices": "Devices the pass is on",
    "error": "What went wrong",
    "code": "Machine-readable code",
    "message": "Human-readable explanation",
    "field": "The request field at fault; null when not one field",
}

FIELD_OVERRIDES: dict[str, str] = {
    "DoorCreate.timezone": "IANA time zone name; defaults to the place's",
    "ApiKeyCreate.role": "admin (reads and changes) or read_only (reads only)",
    "OperatorApiKeyCreate.role": "admin (reads and changes) or read_only (reads only)",
    "ApiKeyCreated.role": "admin or read_only",
    "ApiKeyOut.role": "admin or read_only",
    "ApiKeyCreate.name": "What the key is for (shown in the event log)",
    "OperatorApiKeyCreate.name": "What the key is for (shown in the event log)",
    "MemberCreate.role": "owner, admin or member (default)",
    "MemberUpdate.role": "owner, admin or member",
    "MemberOut.status": "active or deactivated (a deactivated member opens nothing)",
    "MemberUpdate.status": "active or deactivated (a deactivated member opens nothing)",
    "ProfileOut.status": "active or deactivated",
    "SubscriptionCreate.kind": "What the subscription is for; apple_pass",
    "SubscriptionOut.kind": "What the subscription is for; apple_pass",
    "SubscriptionCreate.status": "active, pending or cancelled",
    "SubscriptionOut.status": "active, pending or cancelled",
    "SubscriptionUpdate.status": "active, pending or cancelled",
    "SubscriptionCreate.valid_from": "Start of the subscription (UTC)",
    "AppCredentialOut.status": "active, suspended or deleted",
    "RegisteredOut.status": "active, suspended or deleted",
    "DeviceOut.kind": "iphone or watch",
    "OwnDeviceOut.kind": "iphone or watch",
    "DeviceOut.status": "active, replaced, suspended or revoked",
    "OwnDeviceOut.status": "active, replaced, suspended or revoked",
    "OwnPassOut.status": "active, suspended or deleted",
    "PassRowOut.status": "active, suspended or deleted",
    "PassDetailOut.status": "active, suspended or deleted",
    "ProvisionOut.status": "The pass's state: active",
    "WebhookCreate.url": "Where deliveries are POSTed: a public https (or http) URL",
    "ErrorBody.error": "What went wrong: a code, a message and the field at fault",
    "ErrorDetail.code": "Machine-readable code, e.g. not_found, validation_error, forbidden",
    "PairIn.code": "The one-time pairing code from POST /api/v1/readers/{id}/pairing_code",
    "TokenBody.code": "The one-time code the sign-in redirect returned to the app",
    "TokenBody.code_verifier": "The PKCE verifier whose challenge began the sign-in",
    "TokenBody.redirect_uri": "The redirect URI the sign-in began with",
    "PairOut.server_public_key": "The server's P-256 public key the reader checks frames with",
    "PairOut.aliro": "Aliro reader group keys the reader agent needs",
    "PairingCodeOut.expires_at": "When the code stops working (UTC)",
    "DoorAccess.door_name": "The door's name",
    "DoorAccess.place_name": "Name of the door's place",
    "DoorAccess.group_name": "The group granting access",
    "DoorAccess.schedules": "When access is valid, per schedule (none: at any time)",
    "DoorAccess.lockdown": "The door is locked down: it opens for no one now",
    "PassRowOut.member_name": "The pass holder's name",
    "PassRowOut.member_email": "The pass holder's email",
    "PassDetailOut.member_name": "The pass holder's name",
    "PassDetailOut.member_email": "The pass holder's email",
    "PassRowOut.devices": "How many devices the pass is on",
    "PassDetailOut.devices": "How many devices the pass is on",
    "PassDetailOut.device_list": "The devices the pass is on, with their keys",
    "PassDetailOut.registrations": "Wallet registrations (devices receiving pass updates)",
    "PassDetailOut.logs": "Recent Wallet log lines about the pass",
    "PassDetailOut.events": "Recent taps with the pass",
    "ProvisionIn.iphone": "The iPhone sending the request",
    "ProvisionIn.watch": "The paired Apple Watch, if any",
    "ProvisionOut.pass_id": "The pass's id",
    "ProvisionOut.created": "True when the pass was new (false: added to a new device)",
    "ProvisionOut.devices": "Ids of the device keys made",
    "ProvisionOut.replaced": "Ids of the device keys this replaced (now revoked)",
    "ProvisionOut.watch": "What happened for the watch",
    "ProvisionOut.serials": "The pass serial number per device (iphone, watch)",
    "ProvisionOut.pkpass_mime_type": "Media type of the signed passes to hand to Wallet",
    "WatchOutcome.added": "Whether the watch got the pass",
    "WatchOutcome.skipped_reason": "Why not (e.g. locked); null when added",
    "WatchOutcome.message": "Explanation for the member",
    "ConnectionBody.protocol": "oidc or saml",
    "ConnectionBody.enabled": "Whether members can sign in through it",
    "ConnectionBody.accepted_mfa": "Authentication methods (amr / AuthnContext) that count as MFA",
    "ConnectionBody.issuer": "OIDC: the issuer URL, https, compared exactly with its discovery",
    "ConnectionBody.client_id": "OIDC: the client id registered at the IdP",
    "ConnectionBody.client_secret": "OIDC: the client secret (stored encrypted, never shown)",
    "ConnectionBody.scope": "OIDC: scopes requested (openid email profile by default)",
    "ConnectionBody.max_auth_age_s": "Oldest sign-in at the IdP accepted, in seconds",
    "ConnectionBody.email_attribute": "Claim or SAML attribute holding the email",
    "ConnectionBody.idp_entity_id": "SAML: the IdP's entity id",
    "ConnectionBody.idp_sso_url": "SAML: the IdP's single sign-on URL",
    "ConnectionBody.idp_certificate": "SAML: the IdP's signing certificate, PEM",
    "ConnectionBody.idp_metadata_xml": "SAML: the IdP metadata, instead of the three fields",
    "SettingsBody.sso_enforced": "Members must sign in with SSO (needs an enabled connection)",
    "SettingsBody.mfa_required": "Sign-ins must prove MFA",
    "TapOut.type": "access.granted or access.denied",
    "GroupDoors.door_ids": "Ids of the doors the group opens (replacing the current set)",
    "GroupDoorsOut.group_id": "The group's id",
    "IphoneIn.model": "The iPhone's model identifier, e.g. iPhone16,1",
    "WatchIn.model": "The watch's model identifier, e.g. Watch7,1",
    "ReaderCreate.model": "Reader hardware model; decides whether it can read Apple Passes",
    "ReaderUpdate.model": "Reader hardware model; decides whether it can read Apple Passes",
    "ReaderOut.model": "Reader hardware model; decides whether it can read Apple Passes",
}

# Query parameters by name (path parameters ``<kind>_id`` describe themselves).
QUERY_PARAMETERS: dict[str, str] = {
    "member_id": "Only those of this member",
    "status": "Only those in this state",
    "category": "Only this category: access or audit",
    "type": "Only this event type, e.g. access.denied",
    "door_id": "Only those at this door",
    "reader_id": "Only those from this reader",
    "granted": "Only granted (true) or denied (false) taps",
    "reason": "Only taps with this reason, e.g. cache_stale",
    "device": "Only passes on an iphone, a watch, both, or none (no device yet)",
}

# --- examples ---------------------------------------------------------------------------

_EXAMPLE_KEY = (  # the P-256 generator point: a valid key, nobody's
    "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
)
_ID = "0123456789abcdef01234567"

EXAMPLES: dict[str, dict[str, Any]] = {
    "OrganizationCreate": {"name": "Acme Corp", "slug": "acme"},
    "PlaceLockdown": {"lockdown": True},
    "SubscriptionCreate": {
        "kind": "apple_pass",
        "status": "active",
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_until": "2027-01-01T00:00:00Z",
    },
    "SubscriptionUpdate": {"status": "cancelled"},
    "OperatorApiKeyCreate": {"name": "first admin", "role": "admin"},
    "ApiKeyCreate": {"name": "HR sync", "role": "read_only"},
    "WebhookCreate": {
        "url": "https://hooks.example.com/passgate",
        "event_types": ["access.denied", "reader.tampered"],
    },
    "WebhookUpdate": {"active": False},
    "PlaceCreate": {"name": "HQ", "timezone": "Europe/Berlin", "address": "Main St 1"},
    "PlaceUpdate": {"address": "Harbour Rd 2"},
    "ScheduleCreate": {
        "name": "Office hours",
        "windows": [{"weekday": d, "start": "08:00", "end": "18:00"} for d in range(5)],
        "holidays": ["2026-12-25"],
    },
    "ScheduleUpdate": {"holidays": ["2026-12-25", "2026-12-26"]},
    "DoorCreate": {
        "place_id": f"plc_{_ID}",
        "name": "Front door",
        "staleness_limit_s": 86400,
    },
    "DoorUpdate": {"lockdown": True},
    "ReaderCreate": {
        "door_id": f"door_{_ID}",
        "name": "Front door reader",
        "model": "PG-NFC-1",
        "firmware": "1.4.2",
    },
    "ReaderUpdate": {"firmware": "1.5.0"},
    "GroupCreate": {"name": "Staff", "description": "Everyone employed"},
    "GroupUpdate": {"schedule_id": f"sch_{_ID}"},
    "MemberCreate": {"email": "ada@acme.example", "display_name": "Ada Lovelace"},
    "MemberUpdate": {"status": "deactivated"},
    "AccessRightCreate": {
        "member_id": f"mbr_{_ID}",
        "group_id": f"grp_{_ID}",
        "valid_until": "2026-12-31T23:59:59Z",
    },
    "AccessRightUpdate": {"valid_until": None},
    "GroupDoors": {"door_ids": [f"door_{_ID}"]},
    "ProvisionIn": {
        "iphone": {
            "device_id": "iphone-7F3A",
            "model": "iPhone16,1",
            "ios_version": "18.2",
            "app_version": "1.0.0",
            "public_key": _EXAMPLE_KEY,
        }
    },
    "RegisterIn": {"device_id": "iphone-7F3A", "public_key": _EXAMPLE_KEY},
    "TokenBody": {
        "code": "Jm3v0c8yR5...",
        "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "redirect_uri": "passgate://sso/callback",
    },
    "PairIn": {
        "code": "K7QX-29PD",
        "public_key": "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n",
        "aliro_public_key": _EXAMPLE_KEY,
    },
    "ConnectionBody": {
        "protocol": "oidc",
        "issuer": "https://login.acme.example",
        "client_id": "passgate",
        "client_secret": "s3cr3t-from-the-idp",
        "accepted_mfa": ["otp", "hwk"],
    },
    "SettingsBody": {"sso_enforced": True, "mfa_required": True},
}

# --- the webhook payload ----------------------------------------------------------------


class WebhookEvent(BaseModel):
    """One event, POSTed as JSON to each matching webhook (see the headers below)."""

    id: str = Field(description="The event's id (the same in GET /api/v1/events/{event_id})")
    org_id: str = Field(description="The organization's id")
    category: str = Field(description="access (a tap's decision) or audit (a change)")
    type: str = Field(description="Event type, e.g. access.granted or door.updated")
    occurred_at: str = Field(description="When it happened, ISO 8601 UTC")
    recorded_at: str = Field(description="When the server stored it, ISO 8601 UTC")
    actor_type: str | None = Field(description="Kind of caller that made the change")
    actor_id: str | None = Field(description="Id of the caller that made the change")
    actor_name: str | None = Field(description="Name of the caller at the time")
    object_type: str | None = Field(description="Kind of object the event is about")
    object_id: str | None = Field(description="Id of the object the event is about")
    door_id: str | None = Field(description="The door, for taps and door changes")
    reader_id: str | None = Field(description="The reader, for taps")
    member_id: str | None = Field(description="The member, for taps and member changes")
    credential_id: str | None = Field(description="The device key or app credential used")
    granted: bool | None = Field(description="For taps: whether the door opened")
    reason: str | None = Field(description="For taps: why it was granted or denied")
    data: dict[str, Any] = Field(description="Details: for changes, the values before and after")


# --- assembling -------------------------------------------------------------------------


def install(app: FastAPI) -> None:
    """Serve the completed document at the app's openapi_url (built once)."""

    @app.webhooks.post(
        "event",
        operation_id="webhook_event",
        summary="An event, delivered to a subscribed URL",
        description=(
            "What Passgate POSTs to each active webhook whose `event_types` match. Headers: "
            f"`{wh.EVENT_HEADER}` (the event type), `{wh.DELIVERY_HEADER}` (the delivery "
            f"id, the same on retries) and `{wh.SIGNATURE_HEADER}`: "
            '`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the webhook '
            "secret>`. Verify the signature before trusting the body and refuse timestamps "
            "older than a few minutes. Answer 2xx within the timeout to acknowledge; "
            "anything else is retried with exponential backoff."
        ),
    )
    def webhook_event(body: WebhookEvent) -> None:  # a description, never called
        raise NotImplementedError

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                webhooks=app.webhooks.routes,
            )
            app.openapi_schema = complete(doc)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    components = doc.setdefault("components", {})
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An organization API key (admin or read_only), the operator key, or a "
                "member's app session token: `Authorization: Bearer <token>`."
            ),
        },
        SESSION_COOKIE: {
            "type": "apiKey",
            "in": "cookie",
            "name": "passgate_session",
            "description": (
                "A dashboard (browser) session after SSO sign-in; named "
                "`__Host-passgate_session` over https. Changes also need the "
                "`passgate_csrf` cookie's value in the `X-CSRF-Token` header."
            ),
        },
    }
    doc["security"] = [{BEARER: []}, {SESSION_COOKIE: []}]
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            _complete_operation(operation, schemas)
    for item in doc.get("webhooks", {}).values():
        for operation in item.values():
            operation["security"] = []
            operation.pop("responses", None)
            operation["responses"] = {"200": {"description": "Any 2xx acknowledges it"}}
    _drop_unused_validation_schemas(doc)
    for name, schema in schemas.items():
        for field, prop in (schema.get("properties") or {}).items():
            if not prop.get("description"):
                text = FIELD_OVERRIDES.get(f"{name}.{field}") or FIELDS.get(field)
                if text:
                    prop["description"] = text
        if name in EXAMPLES:
            schema["examples"] = [EXAMPLES[name]]
    return doc


def _complete_operation(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    operation_id = str(operation.get("operationId", ""))
    description = operation.get("description") or OPERATIONS.get(operation_id, "")
    roles, sentence = _roles_sentence(operation_id)
    if description and sentence:
        description = f"{description}\n\n{sentence}"
    if description:
        operation["description"] = description
    operation["x-passgate-roles"] = roles
    for parameter in operation.get("parameters", []):
        if parameter.get("description"):
            continue
        name = str(parameter.get("name", ""))
        if parameter.get("in") == "path" and name.endswith("_id"):
            parameter["description"] = f"The {name[:-3].replace('_', ' ')}'s id"
        elif parameter.get("in") == "query" and name in QUERY_PARAMETERS:
            parameter["description"] = QUERY_PARAMETERS[name]
    if operation_id in authz.PUBLIC:
        operation["security"] = []
    responses: dict[str, Any] = operation.get("responses", {})
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    if "422" in responses and "ErrorBody" in schemas:
        responses["422"] = {
            "description": "A field breaks a rule: the error names it",
            "content": {"application/json": {"schema": error_ref}},
        }
    ok = responses.get("200", {})
    schema = ok.get("content", {}).get("application/json", {}).get("schema", {})
    if schema.get("type") == "array":
        ok.setdefault("headers", {})["X-Total-Count"] = {
            "description": "How many items match in all, across every page",
            "schema": {"type": "integer", "minimum": 0},
        }


def _drop_unused_validation_schemas(doc: dict[str, Any]) -> None:
    """FastAPI's own 422 schemas describe a body this API never sends (errors.install
    answers ``ErrorBody``); drop them once nothing refers to them."""
    schemas = doc["components"]["schemas"]
    text = repr(doc.get("paths", {})) + repr(doc.get("webhooks", {}))
    if "#/components/schemas/HTTPValidationError" not in text:
        schemas.pop("HTTPValidationError", None)
        others = repr({k: v for k, v in schemas.items() if k != "ValidationError"})
        if "#/components/schemas/ValidationError" not in others + text:
            schemas.pop("ValidationError", None)
