"""The tables of routing-service's schema, as its migrations create them."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()

departments = sa.Table(
    "departments",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("min_confidence", sa.Float, nullable=False, server_default="0.5"),
    sa.Column("is_triage", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    # Migration 0003: managed through the API.
    sa.Column("keywords", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    # Migration 0006_agents: how the department's tickets find agents.
    sa.Column("assignment_policy", sa.Text, nullable=False, server_default="manual"),
)
sa.Index("departments_tenant_lower_name", departments.c.tenant_id,
         sa.func.lower(departments.c.name), unique=True)
sa.Index("departments_one_triage", departments.c.tenant_id, unique=True,
         postgresql_where=departments.c.is_triage)

routed_tickets = sa.Table(
    "routed_tickets",
    metadata,
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
    # Migration 0003: closed as of the newest ticket.status.updated (its ticket_version).
    sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("status_version", sa.Integer, nullable=False, server_default="0"),
    # Migration 0004: the ticket was deleted (ticket.deleted); final.
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    # Migration 0006_agents: the ticket's tags (ticket.created, then the newest ticket.updated
    # that changed them, by its ticket_version): the skills policy matches them.
    sa.Column("tags", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("tags_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
)

routing_history = sa.Table(
    "routing_history",
    metadata,
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
)
sa.Index("routing_history_ticket", routing_history.c.tenant_id, routing_history.c.ticket_id,
         routing_history.c.id)

# Migration 0002: what each Idempotency-Key of a tenant asked for and was answered.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("response", pg.JSONB),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
)

# Migration 0006_agents: a tenant's agents; ``open_tickets`` counts their open assignments.
agents = sa.Table(
    "agents",
    metadata,
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
)

# Each routed ticket's assignment: its agent, or (agent_id null) its place in the queue of
# its department; ``open`` false once it is resolved, closed or deleted.
assignments = sa.Table(
    "assignments",
    metadata,
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

# The round-robin cursor of each department (lower(name)): the agent who got the last ticket.
assignment_cursors = sa.Table(
    "assignment_cursors",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("department", sa.Text, primary_key=True),
    sa.Column("last_agent_id", sa.BigInteger, nullable=False),
)
