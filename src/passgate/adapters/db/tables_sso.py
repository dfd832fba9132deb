"""Tables of SSO logins in flight: login states, the SAML replay cache, app authorization codes.

All three are short-lived and tenant-owned; rows are looked up by a hash of the
value the browser or app carries, never by the value itself.
"""

from __future__ import annotations

import sqlalchemy as sa

from passgate.adapters.db.tables import ID, UTCDateTime, _created, _org, metadata, register_table
from passgate.domain import sso

sso_login_states = sa.Table(
    "sso_login_states",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    _org(),
    sa.Column("protocol", sa.String(10), nullable=False),
    sa.Column("purpose", sa.String(10), nullable=False),
    sa.Column("nonce", sa.String(100), nullable=False),
    sa.Column("verifier_sealed", sa.String(300), nullable=True),
    sa.Column("app_challenge", sa.String(100), nullable=True),
    sa.Column("app_redirect_uri", sa.String(2000), nullable=True),
    sa.Column("app_state", sa.String(500), nullable=True),
    _created(),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("consumed_at", UTCDateTime(), nullable=True),
)

sso_saml_assertions = sa.Table(
    "sso_saml_assertions",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("assertion_id", sa.String(200), nullable=False),
    sa.Column("issuer", sa.String(500), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    _created(),
    # The replay cache's guarantee lives in the schema: a second insert fails.
    sa.UniqueConstraint("org_id", "assertion_id", name="uq_sso_saml_assertions_org_assertion"),
)

sso_app_codes = sa.Table(
    "sso_app_codes",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    _org(),
    sa.Column("member_id", ID, nullable=False),
    sa.Column("challenge", sa.String(100), nullable=False),
    sa.Column("redirect_uri", sa.String(2000), nullable=False),
    sa.Column("proof", sa.JSON, nullable=False),
    _created(),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(
        ["org_id", "member_id"], ["members.org_id", "members.id"], name="fk_app_code_member"
    ),
)


register_table(sso.SsoLoginState, sso_login_states)
register_table(sso.SamlAssertionSeen, sso_saml_assertions)
register_table(sso.AppAuthorizationCode, sso_app_codes)
