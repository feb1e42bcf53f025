"""The AI's decision on the ticket (passed on by routing) and the tenant settings.

Revision ID: 0008_ai_decision
Revises: 0007_erasure
Create Date: 2026-12-05
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0008_ai_decision"
down_revision: Union[str, None] = "0007_erasure"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_NULLABLE = (("requested_priority", sa.Text), ("ai_outcome", sa.Text), ("ai_priority", sa.Text),
             ("ai_confidence", sa.Float), ("ai_model_version", sa.Text),
             ("ai_urgency", sa.Float), ("sentiment", sa.Text), ("requires_action", sa.Boolean))
_FLAGS = ("ai_priority_applied", "priority_edited")


def upgrade() -> None:
    for name, type_ in _NULLABLE:
        op.add_column("tickets", sa.Column(name, type_))
    for name in _FLAGS:
        op.add_column("tickets", sa.Column(name, sa.Boolean, nullable=False,
                                           server_default=sa.false()))
    # Tickets routed before: their decision's details are not known, only that one was made.
    op.execute("UPDATE tickets SET requested_priority = priority, "
               "ai_outcome = CASE WHEN categorization_method IS NOT NULL THEN 'categorized' END")
    op.create_check_constraint(
        "tickets_ai_outcome_valid", "tickets", "ai_outcome IN ('categorized', 'fallback')")
    op.create_check_constraint(
        "tickets_sentiment_valid", "tickets",
        "sentiment IN ('negative', 'neutral', 'positive')")
    op.create_table(
        "tenant_settings",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("ai_priority", sa.Text, nullable=False, server_default="suggest"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.CheckConstraint("ai_priority IN ('suggest', 'apply')",
                           name="tenant_settings_ai_priority"),
    )


def downgrade() -> None:
    op.drop_table("tenant_settings")
    op.drop_constraint("tickets_sentiment_valid", "tickets")
    op.drop_constraint("tickets_ai_outcome_valid", "tickets")
    for name in _FLAGS:
        op.drop_column("tickets", name)
    for name, _ in reversed(_NULLABLE):
        op.drop_column("tickets", name)
