"""SQLAlchemy Core tables of the ticket_service schema, mirroring migrations 0001 and 0002."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()

TS = sa.DateTime(timezone=True)


def _created_at() -> sa.Column:
    return sa.Column("created_at", TS, nullable=False, server_default=sa.func.now())


tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("user_name", sa.Text, nullable=False),
    sa.Column("user_email", sa.Text, nullable=False),
    sa.Column("priority", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("department", sa.Text),
    sa.Column("confidence_score", sa.Float),
    sa.Column("categorization_method", sa.Text),
    sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("routing_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("idempotency_key", sa.Text),
    sa.Column("request_fingerprint", sa.Text),
    _created_at(),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("requester_id", sa.BigInteger, sa.ForeignKey("users.id")),
    sa.Column("tags", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.UniqueConstraint("tenant_id", "idempotency_key", name="tickets_tenant_idempotency_key"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    _created_at(),
)
# One requester per address and tenant, whatever the case of the address.
USERS_EMAIL_INDEX = "users_tenant_lower_email"
sa.Index(USERS_EMAIL_INDEX, users.c.tenant_id, sa.func.lower(users.c.email), unique=True)

comments = sa.Table(
    "comments",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("ticket_id", sa.BigInteger, sa.ForeignKey("tickets.id"), nullable=False),
    sa.Column("author_name", sa.Text, nullable=False),
    sa.Column("author_email", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    _created_at(),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("ticket_id", sa.BigInteger, sa.ForeignKey("tickets.id"), nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("ticket_version", sa.Integer, nullable=False),
    sa.Column("details", pg.JSONB, nullable=False, server_default="{}"),
    sa.Column("actor", sa.Text),
    sa.Column("request_id", sa.Text),
    sa.Column("occurred_at", TS, nullable=False, server_default=sa.func.now()),
)

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    _created_at(),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.tenant_id"), nullable=False),
    sa.Column("prefix", sa.Text, nullable=False, unique=True),
    sa.Column("key_hash", sa.Text, nullable=False, unique=True),
    sa.Column("scopes", pg.ARRAY(sa.Text), nullable=False),
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    _created_at(),
    sa.Column("revoked_at", TS),
)
