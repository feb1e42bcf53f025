"""Agents and assignment: agents, each ticket's assignment (or place in its department's queue),
each department's assignment policy and round-robin cursor, the tags a ticket was created with.

Revision ID: 0006_agents
Revises: 0005
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

revision = "0006_agents"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("departments", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("skills", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="available"),
        sa.Column("open_tickets", sa.Integer, nullable=False, server_default="0"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.CheckConstraint("capacity >= 0", name="agents_capacity_not_negative"),
        sa.CheckConstraint("open_tickets >= 0", name="agents_open_tickets_not_negative"),
        sa.CheckConstraint("status in ('available', 'away', 'offline')",
                           name="agents_status_known"),
    )
    op.create_index("agents_tenant_lower_email", "agents",
                    ["tenant_id", sa.text("lower(email)")], unique=True)
    op.create_table(
        "assignments",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("ticket_id", sa.BigInteger, primary_key=True),
        sa.Column("department", sa.Text),
        sa.Column("agent_id", sa.BigInteger),
        sa.Column("open", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("assignment_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )
    op.create_index("assignments_waiting", "assignments",
                    ["tenant_id", sa.text("lower(department)"), "queued_at", "ticket_id"],
                    postgresql_where=sa.text("open AND agent_id IS NULL"))
    op.create_index("assignments_agent_open", "assignments", ["tenant_id", "agent_id"],
                    postgresql_where=sa.text("open AND agent_id IS NOT NULL"))
    op.create_table(
        "assignment_cursors",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("department", sa.Text, primary_key=True),   # lower(name)
        sa.Column("last_agent_id", sa.BigInteger, nullable=False),
    )
    op.add_column("departments", sa.Column("assignment_policy", sa.Text, nullable=False,
                                           server_default="manual"))
    op.create_check_constraint(
        "departments_assignment_policy_known", "departments",
        "assignment_policy in ('manual', 'round_robin', 'least_loaded', 'skills')")
    op.add_column("routed_tickets", sa.Column("tags", pg.ARRAY(sa.Text), nullable=False,
                                              server_default="{}"))
    op.add_column("routed_tickets", sa.Column("tags_version", sa.Integer, nullable=False,
                                              server_default="0"))


def downgrade() -> None:
    op.drop_column("routed_tickets", "tags_version")
    op.drop_column("routed_tickets", "tags")
    op.drop_constraint("departments_assignment_policy_known", "departments")
    op.drop_column("departments", "assignment_policy")
    op.drop_table("assignment_cursors")
    op.drop_table("assignments")
    op.drop_table("agents")
