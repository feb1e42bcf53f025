"""Tickets are soft-deleted: deleted_at set, every read leaves them out.

Revision ID: 0006_soft_delete
Revises: 0005_follow_ups
Create Date: 2026-12-27
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006_soft_delete"
down_revision: Union[str, None] = "0005_follow_ups"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


_ACTIONS = "'created', 'status_changed', 'updated', 'routed', 'commented'"


def upgrade() -> None:
    op.add_column("tickets", sa.Column("deleted_at", sa.DateTime(timezone=True)))
    op.drop_constraint("audit_action_valid", "audit")
    op.create_check_constraint("audit_action_valid", "audit",
                               f"action IN ({_ACTIONS}, 'deleted')")


def downgrade() -> None:
    op.execute("DELETE FROM audit WHERE action = 'deleted'")
    op.drop_constraint("audit_action_valid", "audit")
    op.create_check_constraint("audit_action_valid", "audit", f"action IN ({_ACTIONS})")
    op.drop_column("tickets", "deleted_at")
