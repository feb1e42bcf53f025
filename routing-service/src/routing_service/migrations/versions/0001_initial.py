"""Outbox, inbox, departments, routed tickets and the routing history.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""
from alembic import op
import sqlalchemy as sa

from support_shared.inbox import create_inbox_table
from support_shared.outbox import create_outbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _departments() -> None:
    op.create_table(
        "departments",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("min_confidence", sa.Float, nullable=False, server_default="0.5"),
        sa.Column("is_triage", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.CheckConstraint("min_confidence >= 0 AND min_confidence <= 1",
                           name="departments_min_confidence_range"),
        sa.CheckConstraint("name = btrim(name) AND name <> ''", name="departments_name_trimmed"),
    )
    op.create_index("departments_tenant_lower_name", "departments",
                    ["tenant_id", sa.text("lower(name)")], unique=True)
    # At most one triage department per tenant: the fallback must be unambiguous.
    op.create_index("departments_one_triage", "departments", ["tenant_id"], unique=True,
                    postgresql_where=sa.text("is_triage"))


def _routed_tickets() -> None:
    op.create_table(
        "routed_tickets",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("ticket_id", sa.BigInteger, primary_key=True),
        sa.Column("title", sa.Text),
        sa.Column("ticket_created_at", sa.DateTime(timezone=True)),
        sa.Column("department", sa.Text),
        sa.Column("routing_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_method", sa.Text),
        sa.Column("confidence", sa.Float),
        sa.Column("priority", sa.Text),
        sa.Column("categorization_method", sa.Text),
        sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("ticket_version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("categorized_version", sa.Integer),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.CheckConstraint("last_method IN ('auto', 'manual', 'reroute')",
                           name="routed_tickets_last_method"),
    )
    op.create_index("routed_tickets_department", "routed_tickets", ["tenant_id", "department"])


def _routing_history() -> None:
    op.create_table(
        "routing_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("ticket_id", sa.BigInteger, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("previous_department", sa.Text),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("confidence", sa.Float),
        sa.Column("priority", sa.Text),
        sa.Column("categorization_method", sa.Text),
        sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.Text),
        sa.Column("routing_version", sa.Integer, nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.CheckConstraint("method IN ('auto', 'manual', 'reroute')",
                           name="routing_history_method"),
    )
    op.create_index("routing_history_ticket", "routing_history", ["tenant_id", "ticket_id", "id"])


def upgrade() -> None:
    create_outbox_table(op)
    create_inbox_table(op)
    _departments()
    _routed_tickets()
    _routing_history()


def downgrade() -> None:
    for table in ("routing_history", "routed_tickets", "departments", "inbox", "outbox"):
        op.drop_table(table)
