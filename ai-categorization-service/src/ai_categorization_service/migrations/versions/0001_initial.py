"""Outbox, inbox and the categorizations table.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from support_shared.inbox import create_inbox_table
from support_shared.outbox import create_outbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_table(op)
    create_inbox_table(op)
    op.create_table(
        "categorizations",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("ticket_id", sa.BigInteger, nullable=False),
        sa.Column("source_event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("priority", sa.Text, nullable=False),
        sa.Column("requested_priority", sa.Text),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("model_version", sa.Text),
        sa.Column("urgency", sa.Float),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("latency_ms", sa.Float),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.UniqueConstraint("tenant_id", "ticket_id", name="categorizations_tenant_ticket_key"),
        sa.CheckConstraint("priority IN ('low', 'medium', 'high', 'critical')",
                           name="categorizations_priority_check"),
        sa.CheckConstraint(
            "requested_priority IS NULL"
            " OR requested_priority IN ('low', 'medium', 'high', 'critical')",
            name="categorizations_requested_priority_check"),
        sa.CheckConstraint("method IN ('claude', 'local_model', 'keywords')",
                           name="categorizations_method_check"),
        sa.CheckConstraint("confidence >= 0 AND confidence <= 1",
                           name="categorizations_confidence_check"),
        sa.CheckConstraint("urgency IS NULL OR (urgency >= 0 AND urgency <= 1)",
                           name="categorizations_urgency_check"),
    )


def downgrade() -> None:
    op.drop_table("categorizations")
    op.drop_table("inbox")
    op.drop_table("outbox")
