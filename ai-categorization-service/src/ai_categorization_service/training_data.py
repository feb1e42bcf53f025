"""Labelled examples from agents' corrections, and the ticket texts they are made of."""
from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection

CorrectionSource = Literal["manual", "reroute"]


class DataError(ValueError):
    """Input that cannot be trained or evaluated on: file, columns, too few examples."""


class NothingToRetrainError(DataError):
    """No correction the active model has not learned from yet."""


metadata = sa.MetaData()

ticket_texts = sa.Table(
    "ticket_texts",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("ticket_id", sa.BigInteger, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
)

training_examples = sa.Table(
    "training_examples",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("ticket_id", sa.BigInteger, nullable=False),
    sa.Column("text", sa.Text),
    sa.Column("department", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("routing_version", sa.Integer),
    sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
)


def ticket_text(title: str, description: str) -> str:
    """The text a model learns from and predicts on: the shipped examples' "title\\n\\nbody"."""
    return f"{title}\n\n{description}"


@dataclass(frozen=True)
class Correction:
    tenant_id: str
    ticket_id: int
    department: str
    source: CorrectionSource
    routing_version: int | None
    event_id: uuid.UUID


class TrainingDataRepository(ABC):
    """Ticket texts kept at ticket.created and the corrections agents made since."""

    @abstractmethod
    def remember_text(self, tenant_id: str, ticket_id: int, title: str, description: str) -> None:
        """Keep the ticket's text (first one wins) and give it to corrections still without."""

    @abstractmethod
    def text_of(self, tenant_id: str, ticket_id: int) -> str | None: ...

    @abstractmethod
    def add_correction(self, correction: Correction, text: str | None) -> bool:
        """Store one labelled example; False if this event's example is already stored."""


# Built once: statement construction, not the round trip, dominated a consumer's CPU. Every
# ticket.created runs this one: keep the text, and give it to corrections that came first.
_KEEP_TEXT = sa.text(
    "WITH kept AS ("
    " INSERT INTO ticket_texts (tenant_id, ticket_id, title, description)"
    " VALUES (:tenant_id, :ticket_id, :title, :description) ON CONFLICT DO NOTHING)"
    " UPDATE training_examples SET text = :text"
    " WHERE tenant_id = :tenant_id AND ticket_id = :ticket_id AND text IS NULL"
)
_TEXT_OF = (
    sa.select(ticket_texts.c.title, ticket_texts.c.description)
    .where(ticket_texts.c.tenant_id == sa.bindparam("tenant_id"),
           ticket_texts.c.ticket_id == sa.bindparam("ticket_id"))
)
_ADD_CORRECTION = (
    pg.insert(training_examples)
    .values({c: sa.bindparam(c) for c in ("tenant_id", "ticket_id", "text", "department",
                                          "source", "routing_version", "event_id")})
    .on_conflict_do_nothing(index_elements=["event_id"])
    .returning(training_examples.c.id)
)


_INSERT_TEXT = pg.insert(ticket_texts).on_conflict_do_nothing()   # VALUES: given at execution
_ANY_CORRECTION_WITHOUT_TEXT = sa.text(
    "SELECT EXISTS (SELECT 1 FROM training_examples WHERE text IS NULL)")


class SqlTrainingDataRepository(TrainingDataRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def remember_text(self, tenant_id: str, ticket_id: int, title: str, description: str) -> None:
        self.conn.execute(_KEEP_TEXT, {"tenant_id": tenant_id, "ticket_id": ticket_id,
                                       "title": title, "description": description,
                                       "text": ticket_text(title, description)})

    def remember_texts(self, texts: list[tuple[str, int, str, str]]) -> None:
        """``remember_text`` for many (tenant, ticket id, title, description) at once."""
        if not texts:
            return
        if self.conn.scalar(_ANY_CORRECTION_WITHOUT_TEXT):   # rare: a correction came first
            for tenant_id, ticket_id, title, description in texts:
                self.remember_text(tenant_id, ticket_id, title, description)
            return
        self.conn.execute(_INSERT_TEXT, [
            {"tenant_id": tenant, "ticket_id": ticket_id, "title": title,
             "description": description} for tenant, ticket_id, title, description in texts])

    def text_of(self, tenant_id: str, ticket_id: int) -> str | None:
        row = self.conn.execute(_TEXT_OF, {"tenant_id": tenant_id, "ticket_id": ticket_id}).first()
        return None if row is None else ticket_text(row.title, row.description)

    def add_correction(self, correction: Correction, text: str | None) -> bool:
        row = self.conn.execute(_ADD_CORRECTION, {
            "tenant_id": correction.tenant_id, "ticket_id": correction.ticket_id, "text": text,
            "department": correction.department, "source": correction.source,
            "routing_version": correction.routing_version, "event_id": correction.event_id,
        }).first()
        return row is not None


@dataclass(frozen=True)
class LabelledExample:
    id: int
    text: str
    department: str


def corrected_examples(conn: Connection) -> list[LabelledExample]:
    """The last correction of each ticket whose text is known, oldest first.

    A ticket routed by hand twice counts once, with the department it was routed to last
    (highest routing version; arrival order breaks ties and covers events without one).
    """
    t = training_examples
    latest = (
        sa.select(t.c.id, t.c.text, t.c.department)
        .where(t.c.text.is_not(None))
        .ext(pg.distinct_on(t.c.tenant_id, t.c.ticket_id))
        .order_by(t.c.tenant_id, t.c.ticket_id,
                  t.c.routing_version.desc().nulls_last(), t.c.id.desc())
        .subquery()
    )
    rows = conn.execute(sa.select(latest).order_by(latest.c.id)).all()
    return [LabelledExample(r.id, r.text, r.department) for r in rows]


def count_examples(conn: Connection) -> tuple[int, int]:
    """(stored corrections, of which still without text)."""
    t = training_examples
    row = conn.execute(
        sa.select(sa.func.count(), sa.func.count().filter(t.c.text.is_(None))).select_from(t)
    ).one()
    return int(row[0]), int(row[1])
