"""Tickets from other systems (source, external_id) and a change position for the export.

``source`` + ``external_id`` name a ticket in the system it came from: unique per tenant, so a
batch upsert finds it again (and two concurrent creates of one external ticket make one row).
``external_updated_at`` is that system's last change time, so an older copy never overwrites a
newer one. ``change_xid`` is the id of the transaction that last wrote the row, set by a
trigger on every insert and update whoever writes; the export pages on (change_xid, id) up to
the oldest transaction still running, so a transaction committing late is never skipped.

Revision ID: 0009_external_ids
Revises: 0008_ai_decision
Create Date: 2026-12-05
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0009_external_ids"
down_revision: Union[str, None] = "0008_ai_decision"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("source", sa.Text))
    op.add_column("tickets", sa.Column("external_id", sa.Text))
    op.add_column("tickets", sa.Column("external_updated_at", sa.DateTime(timezone=True)))
    op.create_check_constraint(
        "tickets_external_id_pair", "tickets", "(source IS NULL) = (external_id IS NULL)")
    op.create_index("tickets_tenant_source_external_id", "tickets",
                    ["tenant_id", "source", "external_id"], unique=True)
    op.execute("ALTER TABLE tickets ADD COLUMN change_xid xid8 NOT NULL "
               "DEFAULT pg_current_xact_id()")
    op.execute("""
        CREATE FUNCTION tickets_set_change_xid() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.change_xid := pg_current_xact_id();
            RETURN NEW;
        END $$""")
    op.execute("CREATE TRIGGER tickets_change_xid BEFORE INSERT OR UPDATE ON tickets "
               "FOR EACH ROW EXECUTE FUNCTION tickets_set_change_xid()")
    op.create_index("tickets_tenant_change", "tickets", ["tenant_id", "change_xid", "id"])


def downgrade() -> None:
    op.drop_index("tickets_tenant_change", "tickets")
    op.execute("DROP TRIGGER tickets_change_xid ON tickets")
    op.execute("DROP FUNCTION tickets_set_change_xid()")
    op.drop_column("tickets", "change_xid")
    op.drop_index("tickets_tenant_source_external_id", "tickets")
    op.drop_constraint("tickets_external_id_pair", "tickets")
    op.drop_column("tickets", "external_updated_at")
    op.drop_column("tickets", "external_id")
    op.drop_column("tickets", "source")
