"""The statements that overwrite one requester's personal data in this schema (rows stay)."""
from __future__ import annotations

import abc
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from support_shared.erasure import ERASED, SqlErasure, scrub_json

from ..activity.domain import User
from ..activity.persistence import audit, comments, users
from ..db import metadata


def _tickets() -> sa.Table:
    """The tickets table (defined by ``tickets.persistence``, which imports this module)."""
    return metadata.tables["tickets"]


def erased_email(user_id: int) -> str:
    """What an erased requester's address becomes: unique per tenant, as the index wants."""
    return f"[erased:{user_id}]"


class AbstractRequesterErasure(abc.ABC):
    @abc.abstractmethod
    def tickets_of(self, user: User) -> list[int]:
        """Ids of the tenant's tickets opened for ``user`` (by requester id or by address),
        deleted ones included, ascending; locked until the transaction ends."""

    @abc.abstractmethod
    def erase(self, user: User, ticket_ids: Sequence[int]) -> dict[str, int]:
        """Overwrite ``user``'s name and address, the texts of ``ticket_ids`` (ticket, every
        comment, audit details, outbox payloads) and the comments ``user`` wrote elsewhere;
        rows changed per table. Idempotent."""


def _scrubbed(column: sa.Column) -> sa.ColumnElement:
    """``ERASED`` where ``column`` holds something, null where it holds nothing."""
    return sa.case((column.is_(None), None), else_=sa.literal(ERASED))


class SqlRequesterErasure(AbstractRequesterErasure):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.outbox = SqlErasure(conn, ())

    def tickets_of(self, user: User) -> list[int]:
        tickets = _tickets()
        stmt = (sa.select(tickets.c.id)
                .where(tickets.c.tenant_id == user.tenant_id,
                       sa.or_(tickets.c.requester_id == user.id,
                              sa.func.lower(tickets.c.user_email) == user.email.lower()))
                .order_by(tickets.c.id).with_for_update())
        # Locked in id order, as the consumers lock tickets, so the updates below cannot
        # deadlock with them.
        return list(self.conn.execute(stmt).scalars())

    def erase(self, user: User, ticket_ids: Sequence[int]) -> dict[str, int]:
        assert user.id is not None
        tenant, ids, tickets = user.tenant_id, list(ticket_ids), _tickets()
        run = self.conn.execute
        changed = {"users": run(
            users.update().where(users.c.tenant_id == tenant, users.c.id == user.id).values(
                name=ERASED, email=erased_email(user.id),
                request_fingerprint=_scrubbed(users.c.request_fingerprint),
                erased_at=sa.func.coalesce(users.c.erased_at, sa.func.now()))).rowcount}
        changed["tickets"] = run(
            tickets.update().where(tickets.c.tenant_id == tenant, tickets.c.id.in_(ids)).values(
                title=ERASED, description=ERASED, user_name=ERASED, user_email=ERASED,
                request_fingerprint=_scrubbed(tickets.c.request_fingerprint))).rowcount
        by_user = sa.func.lower(comments.c.author_email) == user.email.lower()
        changed["comments"] = run(
            comments.update().where(comments.c.tenant_id == tenant,
                                    sa.or_(comments.c.ticket_id.in_(ids), by_user))
            .values(body=ERASED, request_fingerprint=_scrubbed(comments.c.request_fingerprint),
                    author_name=sa.case((by_user, ERASED), else_=comments.c.author_name),
                    author_email=sa.case((by_user, ERASED), else_=comments.c.author_email))
        ).rowcount
        changed["audit"] = self._audit(user, ids)
        changed["outbox"] = self.outbox.erase_tickets(tenant, ids).get("outbox", 0)
        return changed

    def _audit(self, user: User, ids: list[int]) -> int:
        """The details of the tickets' entries, and of the comments ``user`` wrote elsewhere."""
        by_user = sa.func.lower(audit.c.details["author_email"].astext) == user.email.lower()
        rows = self.conn.execute(
            sa.select(audit.c.id, audit.c.details)
            .where(audit.c.tenant_id == user.tenant_id, sa.or_(audit.c.ticket_id.in_(ids), by_user))
            .order_by(audit.c.id).with_for_update()).all()
        updates = [{"k_id": row.id, "details": scrub_json(row.details)} for row in rows
                   if scrub_json(row.details) != row.details]
        if updates:
            self.conn.execute(audit.update().where(audit.c.id == sa.bindparam("k_id"))
                              .values(details=sa.bindparam("details")), updates)
        return len(updates)
