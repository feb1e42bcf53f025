"""Tables of the integration schema (migrations 0001_integration and 0002_delivery_ticket)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()
TS = sa.DateTime(timezone=True)


def _now() -> sa.Column:
    return sa.Column("created_at", TS, nullable=False, server_default=sa.func.now())


sources = sa.Table(
    "sources", metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("config", pg.JSONB, nullable=False),   # base_url, path, pagination, maps
    sa.Column("secrets", sa.LargeBinary),           # Fernet: {"credentials", "webhook_secret"}
    sa.Column("schedule_minutes", sa.Integer),
    sa.Column("next_sync_at", TS),
    sa.Column("cursor", sa.Text),                    # the last stored position of the export
    _now(),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("tenant_id", "name", name="uq_sources_tenant_name"),
)

# One job per (tenant, source) at a time; an expired lock is free (its holder died).
ingestion_locks = sa.Table(
    "ingestion_locks", metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("job_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("expires_at", TS, nullable=False),
)

ingestion_jobs = sa.Table(
    "ingestion_jobs", metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("trigger", sa.Text, nullable=False),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("pages", sa.Integer, nullable=False, server_default="0"),
    sa.Column("counts", pg.JSONB, nullable=False),
    sa.Column("errors", pg.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("cursor", sa.Text),
    _now(),
    sa.Column("started_at", TS),
    sa.Column("finished_at", TS),
)

ingestion_logs = sa.Table(
    "ingestion_logs", metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("job_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
)

inbound_events = sa.Table(
    "inbound_events", metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("body", pg.JSONB, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("result", pg.JSONB),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", TS, nullable=False, server_default=sa.func.now()),
    _now(),
)

subscriptions = sa.Table(
    "subscriptions", metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("event_types", pg.ARRAY(sa.Text), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("secret", sa.LargeBinary, nullable=False),   # Fernet token of the signing secret
    sa.Column("disabled_reason", sa.Text),
    sa.Column("failing_since", TS),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    _now(),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
)

deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("subscription_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("ticket_id", sa.BigInteger),        # found by an erasure (0002_delivery_ticket)
    sa.Column("payload", pg.JSONB, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", TS),
    _now(),
    sa.Column("delivered_at", TS),
    sa.UniqueConstraint("subscription_id", "event_id", name="uq_deliveries_subscription_event"),
)
