"""Tables and repositories of what hangs off a ticket: requesters (users), comments, audit trail."""
from __future__ import annotations

import abc
import dataclasses
from datetime import timezone
from typing import Any, Sequence, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection
from support_shared.db import row_of

from ..db import TS, claim_key, created_at, metadata
from .domain import INTERNAL, AuditEntry, Comment, User

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    created_at(),
    sa.Column("idempotency_key", sa.Text),
    sa.Column("request_fingerprint", sa.Text),
    sa.UniqueConstraint("tenant_id", "idempotency_key", name="users_tenant_idempotency_key"),
    sa.Column("erased_at", TS),                          # migration 0007; personal data erased
)
# One requester per address and tenant, whatever the case of the address.
USERS_EMAIL_INDEX = "users_tenant_lower_email"
sa.Index(USERS_EMAIL_INDEX, users.c.tenant_id, sa.func.lower(users.c.email), unique=True)

comments = sa.Table(
    "comments",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("ticket_id", sa.BigInteger, sa.ForeignKey("tickets.id"), nullable=False),
    sa.Column("author_name", sa.Text, nullable=False),
    sa.Column("author_email", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    created_at(),
    sa.Column("idempotency_key", sa.Text),
    sa.Column("request_fingerprint", sa.Text),
    sa.Column("author_kind", sa.Text, nullable=False, server_default="agent"),  # 0007_sla
    sa.UniqueConstraint("tenant_id", "idempotency_key", name="comments_tenant_idempotency_key"),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("ticket_id", sa.BigInteger, sa.ForeignKey("tickets.id"), nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("ticket_version", sa.Integer, nullable=False),
    sa.Column("details", pg.JSONB, nullable=False, server_default="{}"),
    sa.Column("actor", sa.Text),
    sa.Column("request_id", sa.Text),
    sa.Column("occurred_at", TS, nullable=False, server_default=sa.func.now()),
)

E = TypeVar("E")


def _build(cls: type[E], row: sa.Row, time_field: str) -> E:
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    values: dict[str, Any] = {n: row._mapping[n] for n in names}
    values[time_field] = values[time_field].astimezone(timezone.utc)
    if values.get("erased_at") is not None:
        values["erased_at"] = values["erased_at"].astimezone(timezone.utc)
    return cls(**values)


_INSERTS: dict[str, Any] = {}


def _insert(conn: Connection, table: sa.Table, entity: Any) -> int:
    values = {k: v for k, v in dataclasses.asdict(entity).items() if k != "id"}
    stmt = _INSERTS.get(table.name)
    if stmt is None:   # built once per table; VALUES: the columns given at execution
        stmt = _INSERTS.setdefault(table.name, table.insert().returning(table.c.id))
    return conn.execute(stmt, values).scalar_one()


class KeyedCreates(abc.ABC):
    """What a repository of idempotent creates offers: hold a key, find what it created."""

    @abc.abstractmethod
    def claim_idempotency_key(self, tenant_id: str, key: str) -> bool:
        """Hold ``key`` until the transaction ends; False while another transaction holds it."""

    @abc.abstractmethod
    def by_idempotency_key(self, tenant_id: str, key: str) -> Any:
        """What the tenant created with ``key``, or None."""


class _SqlKeyedCreates(KeyedCreates):
    """``KeyedCreates`` on ``table`` (its ``tenant_id``/``idempotency_key`` columns)."""

    conn: Connection
    table: sa.Table
    entity: type
    time_field = "created_at"

    def claim_idempotency_key(self, tenant_id: str, key: str) -> bool:
        return claim_key(self.conn, self.table.name, tenant_id, key)

    def by_idempotency_key(self, tenant_id: str, key: str) -> Any:
        t = self.table
        row = self.conn.execute(sa.select(t).where(t.c.tenant_id == tenant_id,
                                                   t.c.idempotency_key == key)).first()
        return _build(self.entity, row, self.time_field) if row else None


class AbstractUserRepository(KeyedCreates):
    @abc.abstractmethod
    def add(self, user: User) -> bool:
        """Insert and set ``user.id``; False if the tenant has a user with that e-mail."""

    @abc.abstractmethod
    def get(self, tenant_id: str, user_id: int) -> User | None: ...

    @abc.abstractmethod
    def by_email(self, tenant_id: str, email: str) -> User | None:
        """The tenant's user with ``email`` (case-insensitive)."""

    @abc.abstractmethod
    def list(self, tenant_id: str, limit: int, before_id: int | None = None,
             email: str | None = None) -> list[User]:
        """Newest first, ids below ``before_id``."""

    @abc.abstractmethod
    def by_emails(self, tenant_id: str, emails: Sequence[str]) -> dict[str, User]:
        """The tenant's users with these addresses, keyed by the lower-cased address."""

    @abc.abstractmethod
    def add_many(self, new_users: Sequence[User]) -> list[User]:
        """Insert each user whose address is free and set its id; return the ones inserted."""


class AbstractCommentRepository(KeyedCreates):
    @abc.abstractmethod
    def add(self, comment: Comment) -> None:
        """Insert and set ``comment.id``."""

    @abc.abstractmethod
    def list(self, tenant_id: str, ticket_id: int, limit: int,
             after_id: int | None = None, public_only: bool = False) -> list[Comment]:
        """Oldest first, ids above ``after_id``; without internal notes if ``public_only``."""


class AbstractAuditRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, entry: AuditEntry) -> None:
        """Append ``entry`` (in the transaction of the change it records)."""

    @abc.abstractmethod
    def add_many(self, entries: Sequence[AuditEntry]) -> None:
        """Append several entries (their ids are not read back)."""

    @abc.abstractmethod
    def list(self, tenant_id: str, ticket_id: int, limit: int,
             after_id: int | None = None) -> list[AuditEntry]:
        """Oldest first, ids above ``after_id``."""


# The create path's statements, built once (building them per request cost more CPU than
# the database round trips).
_USER_BY_EMAIL = sa.select(users).where(
    users.c.tenant_id == sa.bindparam("k_tenant_id"),
    sa.func.lower(users.c.email) == sa.bindparam("k_email"))
_ADD_USER = (pg.insert(users)
             .on_conflict_do_nothing(index_elements=[users.c.tenant_id, sa.func.lower(users.c.email)])
             .returning(users.c.id))   # VALUES: the columns given at execution
_USERS_BY_EMAILS = sa.select(users).where(
    users.c.tenant_id == sa.bindparam("k_tenant_id"),
    sa.func.lower(users.c.email) == sa.any_(sa.bindparam("k_emails", type_=pg.ARRAY(sa.Text))))
_ADD_USERS = (pg.insert(users)
              .on_conflict_do_nothing(index_elements=[users.c.tenant_id,
                                                      sa.func.lower(users.c.email)])
              .returning(users.c.id, users.c.tenant_id, users.c.email))
_ADD_AUDIT = audit.insert()   # VALUES: the columns given at execution


class SqlUserRepository(_SqlKeyedCreates, AbstractUserRepository):
    table, entity = users, User

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, user: User) -> bool:
        values = {k: v for k, v in dataclasses.asdict(user).items() if k != "id"}
        # A concurrent insert of the same address makes this wait for it, then yield no row.
        new_id = self.conn.execute(_ADD_USER, values).scalar_one_or_none()
        if new_id is None:
            return False
        user.id = new_id
        return True

    def get(self, tenant_id: str, user_id: int) -> User | None:
        row = self.conn.execute(
            sa.select(users).where(users.c.tenant_id == tenant_id, users.c.id == user_id)).first()
        return _build(User, row, "created_at") if row else None

    def by_email(self, tenant_id: str, email: str) -> User | None:
        row = self.conn.execute(_USER_BY_EMAIL, {"k_tenant_id": tenant_id,
                                                 "k_email": email.lower()}).first()
        return _build(User, row, "created_at") if row else None

    def by_emails(self, tenant_id: str, emails: Sequence[str]) -> dict[str, User]:
        rows = self.conn.execute(_USERS_BY_EMAILS, {
            "k_tenant_id": tenant_id, "k_emails": sorted({e.lower() for e in emails})})
        return {row.email.lower(): _build(User, row, "created_at") for row in rows}

    def add_many(self, new_users: Sequence[User]) -> list[User]:
        if not new_users:
            return []
        values = [row_of(u, without=("id",)) for u in new_users]
        # Rows that lost to an existing address come back as nothing: match the rest by key.
        ids = {(row.tenant_id, row.email.lower()): row.id
               for row in self.conn.execute(_ADD_USERS, values)}
        inserted = []
        for user in new_users:
            new_id = ids.pop((user.tenant_id, user.email.lower()), None)
            if new_id is not None:
                user.id = new_id
                inserted.append(user)
        return inserted

    def list(self, tenant_id: str, limit: int, before_id: int | None = None,
             email: str | None = None) -> list[User]:
        stmt = sa.select(users).where(users.c.tenant_id == tenant_id)
        if email is not None:
            stmt = stmt.where(sa.func.lower(users.c.email) == email.lower())
        if before_id is not None:
            stmt = stmt.where(users.c.id < before_id)
        rows = self.conn.execute(stmt.order_by(users.c.id.desc()).limit(limit))
        return [_build(User, r, "created_at") for r in rows]


class SqlCommentRepository(_SqlKeyedCreates, AbstractCommentRepository):
    table, entity = comments, Comment

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, comment: Comment) -> None:
        comment.id = _insert(self.conn, comments, comment)

    def list(self, tenant_id: str, ticket_id: int, limit: int,
             after_id: int | None = None, public_only: bool = False) -> list[Comment]:
        c = comments
        stmt = sa.select(c).where(c.c.tenant_id == tenant_id, c.c.ticket_id == ticket_id)
        if public_only:
            stmt = stmt.where(c.c.author_kind != INTERNAL)
        if after_id is not None:
            stmt = stmt.where(c.c.id > after_id)
        rows = self.conn.execute(stmt.order_by(c.c.id).limit(limit))
        return [_build(Comment, r, "created_at") for r in rows]


class SqlAuditRepository(AbstractAuditRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, entry: AuditEntry) -> None:
        entry.id = _insert(self.conn, audit, entry)

    def add_many(self, entries: Sequence[AuditEntry]) -> None:
        if entries:
            self.conn.execute(_ADD_AUDIT, [
                row_of(e, without=("id",)) for e in entries])

    def list(self, tenant_id: str, ticket_id: int, limit: int,
             after_id: int | None = None) -> list[AuditEntry]:
        a = audit
        stmt = sa.select(a).where(a.c.tenant_id == tenant_id, a.c.ticket_id == ticket_id)
        if after_id is not None:
            stmt = stmt.where(a.c.id > after_id)
        rows = self.conn.execute(stmt.order_by(a.c.id).limit(limit))
        return [_build(AuditEntry, r, "occurred_at") for r in rows]
