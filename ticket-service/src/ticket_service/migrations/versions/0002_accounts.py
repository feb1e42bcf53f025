"""Tenants and API keys; requesters (users), comments, the audit trail; ticket tags and requester.

Revision ID: 0002_accounts
Revises: 0001
Create Date: 2026-11-21
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0002_accounts"
down_revision: Union[str, None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TS = sa.DateTime(timezone=True)


def _created_at() -> sa.Column:
    return sa.Column("created_at", TS, nullable=False, server_default=sa.func.now())


def _accounts() -> None:
    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        _created_at(),
        sa.CheckConstraint("tenant_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'", name="tenants_id_valid"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.tenant_id"), nullable=False),
        sa.Column("prefix", sa.Text, nullable=False, unique=True),
        sa.Column("key_hash", sa.Text, nullable=False, unique=True),
        sa.Column("scopes", pg.ARRAY(sa.Text), nullable=False),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        _created_at(),
        sa.Column("revoked_at", TS),
        sa.CheckConstraint("cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'admin']",
                           name="api_keys_scopes_valid"),
    )
    op.create_index("api_keys_tenant_id", "api_keys", ["tenant_id", "id"])


def _users() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        _created_at(),
    )
    op.create_index("users_tenant_lower_email", "users",
                    ["tenant_id", sa.text("lower(email)")], unique=True)
    op.create_index("users_tenant_id_desc", "users", ["tenant_id", sa.text("id DESC")])


def _ticket_columns() -> None:
    op.add_column("tickets", sa.Column("requester_id", sa.BigInteger,
                                       sa.ForeignKey("users.id", name="tickets_requester_fk")))
    op.add_column("tickets", sa.Column("tags", pg.ARRAY(sa.Text), nullable=False,
                                       server_default="{}"))
    op.create_check_constraint("tickets_tags_bounded", "tickets", "cardinality(tags) <= 10")
    op.create_index("tickets_tenant_requester_id_desc", "tickets",
                    ["tenant_id", "requester_id", sa.text("id DESC")])
    op.create_index("tickets_tags", "tickets", ["tags"], postgresql_using="gin")


def _activity() -> None:
    op.create_table(
        "comments",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("ticket_id", sa.BigInteger, sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("author_name", sa.Text, nullable=False),
        sa.Column("author_email", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        _created_at(),
    )
    op.create_index("comments_ticket", "comments", ["tenant_id", "ticket_id", "id"])
    op.create_table(
        "audit",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("ticket_id", sa.BigInteger, sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("ticket_version", sa.Integer, nullable=False),
        sa.Column("details", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("actor", sa.Text),
        sa.Column("request_id", sa.Text),
        sa.Column("occurred_at", TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("action IN ('created', 'status_changed', 'updated', 'routed', "
                           "'commented')", name="audit_action_valid"),
    )
    op.create_index("audit_ticket", "audit", ["tenant_id", "ticket_id", "id"])


def _backfill() -> None:
    """Existing tickets get their requesters; existing tenants get a tenants row."""
    op.execute("""
        INSERT INTO users (tenant_id, name, email, created_at)
        SELECT DISTINCT ON (tenant_id, lower(user_email)) tenant_id, user_name, user_email,
               created_at
        FROM tickets ORDER BY tenant_id, lower(user_email), id
        ON CONFLICT DO NOTHING
    """)
    op.execute("""
        UPDATE tickets t SET requester_id = u.id FROM users u
        WHERE u.tenant_id = t.tenant_id AND lower(u.email) = lower(t.user_email)
    """)
    op.execute("""
        INSERT INTO tenants (tenant_id, name)
        SELECT DISTINCT tenant_id, tenant_id FROM tickets
        WHERE tenant_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'
        ON CONFLICT DO NOTHING
    """)


def upgrade() -> None:
    _accounts()
    _users()
    _ticket_columns()
    _activity()
    _backfill()


def downgrade() -> None:
    op.drop_table("audit")
    op.drop_table("comments")
    op.drop_index("tickets_tags", table_name="tickets")
    op.drop_index("tickets_tenant_requester_id_desc", table_name="tickets")
    op.drop_constraint("tickets_tags_bounded", "tickets", type_="check")
    op.drop_column("tickets", "tags")
    op.drop_column("tickets", "requester_id")
    op.drop_table("users")
    op.drop_table("api_keys")
    op.drop_table("tenants")
