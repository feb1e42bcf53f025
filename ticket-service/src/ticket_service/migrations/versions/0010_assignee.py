"""Tickets show their assignee (routing-service's ticket.assigned / ticket.unassigned), kept
with the assignment version that set it so a stale decision is dropped.

Revision ID: 0010_assignee
Revises: 0009_external_ids
Create Date: 2026-12-05
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0010_assignee"
down_revision: Union[str, None] = "0009_external_ids"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ACTIONS = "'created', 'status_changed', 'updated', 'routed', 'commented', 'deleted'"


def upgrade() -> None:
    op.add_column("tickets", sa.Column("assignee_id", sa.BigInteger))
    op.add_column("tickets", sa.Column("assignee_name", sa.Text))
    op.add_column("tickets", sa.Column("assignment_version", sa.Integer, nullable=False,
                                       server_default="0"))
    op.drop_constraint("audit_action_valid", "audit")
    op.create_check_constraint("audit_action_valid", "audit",
                               f"action IN ({_ACTIONS}, 'assigned')")


def downgrade() -> None:
    op.execute("DELETE FROM audit WHERE action = 'assigned'")
    op.drop_constraint("audit_action_valid", "audit")
    op.create_check_constraint("audit_action_valid", "audit", f"action IN ({_ACTIONS})")
    for column in ("assignment_version", "assignee_name", "assignee_id"):
        op.drop_column("tickets", column)
