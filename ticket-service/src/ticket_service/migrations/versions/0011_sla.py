"""Service levels: tenants' targets and calendars, tickets' timers and due moments, and the
author kind of comments.

Revision ID: 0011_sla
Revises: 0010_assignee
Create Date: 2026-12-05
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0011_sla"
down_revision: Union[str, None] = "0010_assignee"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TS = sa.DateTime(timezone=True)


_STATUSES = "'pending', 'in_progress', 'resolved', 'closed'"


def upgrade() -> None:
    op.drop_constraint("tickets_status_valid", "tickets")
    op.create_check_constraint("tickets_status_valid", "tickets",
                               f"status IN ({_STATUSES}, 'waiting')")
    op.create_table(
        "sla_policies",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("priority", sa.Text, primary_key=True),
        sa.Column("first_response_minutes", sa.Float, nullable=False),
        sa.Column("resolution_minutes", sa.Float, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("first_response_minutes > 0 AND resolution_minutes > 0",
                           name="sla_policies_targets_positive"),
    )
    op.create_table(
        "sla_calendars",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("time_zone", sa.Text, nullable=False),
        sa.Column("hours", pg.JSONB, nullable=False),
        sa.Column("holidays", pg.ARRAY(sa.Date), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "sla_timers",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("ticket_id", sa.BigInteger, sa.ForeignKey("tickets.id"), primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("target_minutes", sa.Float, nullable=False),
        sa.Column("consumed_s", sa.Float, nullable=False),
        sa.Column("running_since", TS),
        sa.Column("stopped_at", TS),
        sa.Column("due_at", TS),
        sa.Column("warning_at", TS),
        sa.Column("warned", sa.Boolean, nullable=False),
        sa.Column("breached", sa.Boolean, nullable=False),
        sa.Column("next_fire_at", TS),
        sa.CheckConstraint("kind IN ('first_response', 'resolution')", name="sla_timers_kind"),
    )
    op.create_index("sla_timers_next_fire", "sla_timers", ["next_fire_at"],
                    postgresql_where=sa.text("next_fire_at IS NOT NULL"))
    op.add_column("tickets", sa.Column("first_response_due_at", TS))
    op.add_column("tickets", sa.Column("resolution_due_at", TS))
    op.add_column("comments", sa.Column("author_kind", sa.Text))
    # Comments written before: the requester's address makes a requester, any other an agent.
    op.execute("UPDATE comments c SET author_kind = CASE WHEN lower(c.author_email) = "
               "lower(t.user_email) THEN 'requester' ELSE 'agent' END "
               "FROM tickets t WHERE t.id = c.ticket_id")
    op.alter_column("comments", "author_kind", nullable=False, server_default="agent")
    op.create_check_constraint("comments_author_kind", "comments",
                               "author_kind IN ('requester', 'agent', 'internal')")


def downgrade() -> None:
    op.drop_constraint("comments_author_kind", "comments")
    op.drop_column("comments", "author_kind")
    op.drop_column("tickets", "resolution_due_at")
    op.drop_column("tickets", "first_response_due_at")
    op.drop_table("sla_timers")
    op.drop_table("sla_calendars")
    op.drop_table("sla_policies")
    op.execute("UPDATE tickets SET status = 'in_progress' WHERE status = 'waiting'")
    op.drop_constraint("tickets_status_valid", "tickets")
    op.create_check_constraint("tickets_status_valid", "tickets", f"status IN ({_STATUSES})")
