"""The ``categorizations`` table, its repository, and the service's unit of work."""
from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection, Engine

from support_shared.db import UnitOfWork
from support_shared.erasure import AbstractErasure, ErasableTable, SqlErasure
from support_shared.outbox import notify_channel

from .categorizer import Decision
from .config import SERVICE_NAME
from .tenant_departments import SqlTenantDepartmentRepository, TenantDepartmentRepository
from .training_data import SqlTrainingDataRepository, TicketKey, TrainingDataRepository

metadata = sa.MetaData()

categorizations = sa.Table(
    "categorizations",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("ticket_id", sa.BigInteger, nullable=False),
    sa.Column("source_event_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("department", sa.Text, nullable=False),
    sa.Column("priority", sa.Text, nullable=False),
    sa.Column("requested_priority", sa.Text),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("model_version", sa.Text),
    sa.Column("urgency", sa.Float),
    sa.Column("input_tokens", sa.Integer),
    sa.Column("output_tokens", sa.Integer),
    sa.Column("latency_ms", sa.Float),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    sa.UniqueConstraint("tenant_id", "ticket_id", name="categorizations_tenant_ticket_key"),
)


@dataclass(frozen=True)
class StoredCategorization:
    ticket_id: int
    source_event_id: uuid.UUID
    decision: Decision
    requested_priority: str | None
    created_at: datetime


@dataclass(frozen=True)
class NewCategorization:
    """A decision to store for the ticket, made for the ``ticket.created`` event given."""

    tenant_id: str
    ticket_id: int
    source_event_id: uuid.UUID
    decision: Decision
    requested_priority: str | None

    @property
    def key(self) -> TicketKey:
        return (self.tenant_id, self.ticket_id)


class CategorizationRepository(ABC):
    """Stored decisions, one per (tenant, ticket)."""

    @abstractmethod
    def existing(self, keys: Iterable[TicketKey]) -> set[TicketKey]:
        """Which of the (tenant, ticket) keys are categorized already."""

    @abstractmethod
    def add_many(self, categorizations: Sequence[NewCategorization]) -> set[TicketKey]:
        """Store each decision unless its ticket has one; the (tenant, ticket) keys stored."""

    @abstractmethod
    def get(self, tenant_id: str, ticket_id: int) -> StoredCategorization | None: ...


_ADD_CATEGORIZATION = (   # VALUES: given at execution; RETURNING: the rows inserted
    pg.insert(categorizations)
    .on_conflict_do_nothing(constraint="categorizations_tenant_ticket_key")
    .returning(categorizations.c.tenant_id, categorizations.c.ticket_id)
)


def _row(new: NewCategorization) -> dict[str, Any]:
    decision = new.decision
    return {"tenant_id": new.tenant_id, "ticket_id": new.ticket_id,
            "source_event_id": new.source_event_id,
            "requested_priority": new.requested_priority, "department": decision.department,
            "priority": decision.priority, "confidence": decision.confidence,
            "method": decision.method, "model_version": decision.model_version,
            "urgency": decision.urgency, "input_tokens": decision.input_tokens,
            "output_tokens": decision.output_tokens, "latency_ms": decision.latency_ms}


class SqlCategorizationRepository(CategorizationRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def existing(self, keys: Iterable[TicketKey]) -> set[TicketKey]:
        keys = list(keys)
        if not keys:
            return set()
        t = categorizations
        rows = self.conn.execute(sa.select(t.c.tenant_id, t.c.ticket_id)
                                 .where(sa.tuple_(t.c.tenant_id, t.c.ticket_id).in_(keys)))
        return {(r.tenant_id, r.ticket_id) for r in rows}

    def add_many(self, categorizations: Sequence[NewCategorization]) -> set[TicketKey]:
        if not categorizations:
            return set()
        rows = self.conn.execute(_ADD_CATEGORIZATION, [_row(c) for c in categorizations])
        return {(r.tenant_id, r.ticket_id) for r in rows}

    def get(self, tenant_id: str, ticket_id: int) -> StoredCategorization | None:
        t = categorizations
        row = self.conn.execute(
            sa.select(t).where(t.c.tenant_id == tenant_id, t.c.ticket_id == ticket_id)
        ).first()
        if row is None:
            return None
        decision = Decision(
            department=row.department, priority=row.priority, confidence=row.confidence,
            method=row.method, model_version=row.model_version, urgency=row.urgency,
            input_tokens=row.input_tokens, output_tokens=row.output_tokens,
            latency_ms=row.latency_ms,
        )
        return StoredCategorization(row.ticket_id, row.source_event_id, decision,
                                    row.requested_priority, row.created_at)


# What this schema holds of a ticket's texts (an erased requester's tickets lose them).
ERASABLE = (
    ErasableTable("ticket_texts", key=("tenant_id", "ticket_id"), texts=("title", "description")),
    ErasableTable("training_examples", texts=("text",)),
)


class AiUnitOfWork(UnitOfWork):
    """Categorizations + training data + departments + inbox + outbox in one transaction."""

    categorizations: CategorizationRepository
    training: TrainingDataRepository
    departments: TenantDepartmentRepository
    erasure: AbstractErasure

    def _start(self, conn: Connection) -> None:
        self.categorizations = SqlCategorizationRepository(conn)
        self.training = SqlTrainingDataRepository(conn)
        self.departments = SqlTenantDepartmentRepository(conn)
        self.erasure = SqlErasure(conn, ERASABLE)


def unit_of_work(engine: Engine, schema: str) -> AiUnitOfWork:
    """The unit of work every entrypoint of this service uses: inbox rows as this service,
    the relay woken on commit."""
    return AiUnitOfWork(engine, consumer=SERVICE_NAME, notify_channel=notify_channel(schema))
