"""What every feature's tables share: the schema's MetaData, timestamp columns, key locks."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

metadata = sa.MetaData()

TS = sa.DateTime(timezone=True)

# A transaction-scoped advisory lock per (schema, scope, tenant, idempotency key).
_KEY_LOCK = sa.text("SELECT pg_try_advisory_xact_lock(hashtextextended("
                    "current_schema() || chr(31) || :scope || chr(31) || :tenant "
                    "|| chr(31) || :key, 0))")


def created_at() -> sa.Column:
    return sa.Column("created_at", TS, nullable=False, server_default=sa.func.now())


def claim_key(conn: Connection, scope: str, tenant_id: str, key: str) -> bool:
    """Hold the idempotency ``key`` of ``scope`` (a kind of create) until the transaction ends.

    False while another transaction holds it: a duplicate in flight is refused, never waits.
    """
    return bool(conn.scalar(_KEY_LOCK, {"scope": scope, "tenant": tenant_id, "key": key}))
