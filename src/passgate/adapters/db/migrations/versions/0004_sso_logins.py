"""sso logins: login states, SAML assertion replay cache, app authorization codes

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from passgate.adapters.db.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _org() -> sa.Column[str]:
    return sa.Column("org_id", sa.String(40), nullable=False)


def upgrade() -> None:
    op.create_table(
        "sso_login_states",
        sa.Column("id", sa.String(64), nullable=False),
        _org(),
        sa.Column("protocol", sa.String(10), nullable=False),
        sa.Column("purpose", sa.String(10), nullable=False),
        sa.Column("nonce", sa.String(100), nullable=False),
        sa.Column("verifier_sealed", sa.String(300), nullable=True),
        sa.Column("app_challenge", sa.String(100), nullable=True),
        sa.Column("app_redirect_uri", sa.String(2000), nullable=True),
        sa.Column("app_state", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("consumed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_sso_login_states_org_id_organizations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sso_login_states"),
    )
    op.create_index("ix_sso_login_states_org_id", "sso_login_states", ["org_id"])
    op.create_table(
        "sso_saml_assertions",
        sa.Column("id", sa.String(40), nullable=False),
        _org(),
        sa.Column("assertion_id", sa.String(200), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_sso_saml_assertions_org_id_organizations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sso_saml_assertions"),
        sa.UniqueConstraint("org_id", "assertion_id", name="uq_sso_saml_assertions_org_assertion"),
    )
    op.create_index("ix_sso_saml_assertions_org_id", "sso_saml_assertions", ["org_id"])
    op.create_table(
        "sso_app_codes",
        sa.Column("id", sa.String(64), nullable=False),
        _org(),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("challenge", sa.String(100), nullable=False),
        sa.Column("redirect_uri", sa.String(2000), nullable=False),
        sa.Column("proof", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_sso_app_codes_org_id_organizations"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "member_id"], ["members.org_id", "members.id"], name="fk_app_code_member"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sso_app_codes"),
    )
    op.create_index("ix_sso_app_codes_org_id", "sso_app_codes", ["org_id"])


def downgrade() -> None:
    op.drop_index("ix_sso_app_codes_org_id", table_name="sso_app_codes")
    op.drop_table("sso_app_codes")
    op.drop_index("ix_sso_saml_assertions_org_id", table_name="sso_saml_assertions")
    op.drop_table("sso_saml_assertions")
    op.drop_index("ix_sso_login_states_org_id", table_name="sso_login_states")
    op.drop_table("sso_login_states")
