"""Stored model versions, agents' corrections as training examples, and each ticket's text.

Revision ID: 0002_model_versions
Revises: 0001
Create Date: 2026-11-22
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0002_model_versions"
down_revision: Union[str, None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TS = sa.DateTime(timezone=True)


def _created_at() -> sa.Column:
    return sa.Column("created_at", TS, nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("version", sa.Text, nullable=False, unique=True),
        _created_at(),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("labels", pg.JSONB, nullable=False),
        sa.Column("metrics", pg.JSONB),
        sa.Column("training_rows", sa.Integer, nullable=False),
        # The serialized TextClassifier (joblib, i.e. a pickle). Loading it runs code, which is
        # safe only because nothing but our own registry (registry.save) ever writes this column.
        sa.Column("artifact", sa.LargeBinary, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.CheckConstraint("source IN ('default', 'csv', 'retrain')",
                           name="model_versions_source_check"),
        sa.CheckConstraint("training_rows >= 0", name="model_versions_training_rows_check"),
    )
    # At most one version is active: the one every consumer and web worker switches to.
    op.create_index("model_versions_one_active", "model_versions", ["active"], unique=True,
                    postgresql_where=sa.text("active"))
    # joblib already compresses the artifact: TOAST need not try again.
    op.execute("ALTER TABLE model_versions ALTER COLUMN artifact SET STORAGE EXTERNAL")

    op.create_table(
        "training_examples",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("ticket_id", sa.BigInteger, nullable=False),
        # Null while the ticket's text is not known yet (ticket.routed before ticket.created);
        # filled in when ticket.created is handled.
        sa.Column("text", sa.Text),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("routing_version", sa.Integer),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False, unique=True),
        _created_at(),
        sa.CheckConstraint("source IN ('manual', 'reroute')",
                           name="training_examples_source_check"),
    )
    op.create_index("training_examples_ticket", "training_examples", ["tenant_id", "ticket_id"])

    op.create_table(
        "ticket_texts",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("ticket_id", sa.BigInteger, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        _created_at(),
    )


def downgrade() -> None:
    op.drop_table("ticket_texts")
    op.drop_table("training_examples")
    op.drop_table("model_versions")
