"""integration-service's schema: sources, ingestion jobs/locks/logs, inbound events,
webhook subscriptions and deliveries, and the consumer's inbox.

Revision ID: 0001_integration
Revises:
Create Date: 2026-12-05 12:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg
from support_shared.inbox import create_inbox_table

revision: str = "0001_integration"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TS = sa.DateTime(timezone=True)


def _now() -> sa.Column:
    return sa.Column("created_at", TS, nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    """Create every table of the service."""
    create_inbox_table(op)
    op.create_table(
        "sources",
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
    op.create_table(
        "ingestion_locks",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("job_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )

    op.create_table(
        "ingestion_jobs",
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

    op.create_table(
        "ingestion_logs",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("job_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )

    op.create_table(
        "inbound_events",
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

    op.create_table(
        "subscriptions",
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

    op.create_table(
        "deliveries",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("subscription_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
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
    op.create_index("ix_ingestion_logs_job", "ingestion_logs", ["job_id", "seq"])
    op.create_index("ix_ingestion_jobs_queue", "ingestion_jobs", ["status", "seq"])
    op.create_index("ix_subscriptions_tenant", "subscriptions", ["tenant_id", "seq"])
    op.create_index("ix_deliveries_due", "deliveries", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("ix_deliveries_subscription", "deliveries", ["subscription_id", "seq"])
    op.create_index("ix_inbound_due", "inbound_events", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    for table in ("deliveries", "subscriptions", "inbound_events", "ingestion_logs",
                  "ingestion_jobs", "ingestion_locks", "sources", "inbox"):
        op.drop_table(table)
