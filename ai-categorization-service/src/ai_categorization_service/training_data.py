"""Labelled examples from agents' corrections, and the ticket texts they are made of."""
from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection

from support_shared.bulk import bulk_upsert
from support_shared.commands import CommandError

CorrectionSource = Literal["manual", "reroute"]


class DataError(CommandError, ValueError):
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


TicketKey = tuple[str, int]   # (tenant id, ticket id)


@dataclass(frozen=True)
class TicketText:
    tenant_id: str
    ticket_id: int
    title: str
    description: str

    @property
    def key(self) -> TicketKey:
        return (self.tenant_id, self.ticket_id)


@dataclass(frozen=True)
class Correction:
    """An agent's routing of a ticket: its text (when known) labelled with the department."""

    tenant_id: str
    ticket_id: int
    department: str
    source: CorrectionSource
    routing_version: int | None
    event_id: uuid.UUID
    text: str | None = None

    @property
    def key(self) -> TicketKey:
        return (self.tenant_id, self.ticket_id)


class TrainingDataRepository(ABC):
    """Ticket texts kept at ticket.created and the corrections agents made since."""

    @abstractmethod
    def remember_texts(self, texts: Sequence[TicketText]) -> None:
        """Keep each ticket's text (first one wins) and give it to corrections still without."""

    @abstractmethod
    def texts_of(self, keys: Iterable[TicketKey]) -> dict[TicketKey, str]:
        """The known texts of these tickets (``ticket_text``), by (tenant, ticket)."""

    @abstractmethod
    def add_corrections(self, corrections: Sequence[Correction]) -> None:
        """Store each as a labelled example, once per event id."""


# Built once: statement construction, not the round trip, dominated a consumer's CPU. Keep the
# text, and give it to corrections that came first (rare: used only when there are some).
_KEEP_TEXT = sa.text(
    "WITH kept AS ("
    " INSERT INTO ticket_texts (tenant_id, ticket_id, title, description)"
    " VALUES (:tenant_id, :ticket_id, :title, :description) ON CONFLICT DO NOTHING)"
    " UPDATE training_examples SET text = :text"
    " WHERE tenant_id = :tenant_id AND ticket_id = :ticket_id AND text IS NULL"
)
_ADD_CORRECTION = (
    pg.insert(training_examples)
    .values({c: sa.bindparam(c) for c in ("tenant_id", "ticket_id", "text", "department",
                                          "source", "routing_version", "event_id")})
    .on_conflict_do_nothing(index_elements=["event_id"])
)
_INSERT_TEXTS = bulk_upsert(ticket_texts, key=("tenant_id", "ticket_id"),
                            columns=("tenant_id", "ticket_id", "title", "description"),
                            do_nothing=True)   # one statement per batch (support_shared.bulk)
_ANY_CORRECTION_WITHOUT_TEXT = sa.text(
    "SELECT EXISTS (SELECT 1 FROM training_examples WHERE text IS NULL)")


class SqlTrainingDataRepository(TrainingDataRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def remember_texts(self, texts: Sequence[TicketText]) -> None:
        if not texts:
            return
        rows = [{"tenant_id": t.tenant_id, "ticket_id": t.ticket_id, "title": t.title,
                 "description": t.description} for t in texts]
        if self.conn.scalar(_ANY_CORRECTION_WITHOUT_TEXT):   # rare: a correction came first
            for row in rows:
                self.conn.execute(_KEEP_TEXT,
                                  {**row, "text": ticket_text(row["title"], row["description"])})
            return
        _INSERT_TEXTS.execute(self.conn, rows)

    def texts_of(self, keys: Iterable[TicketKey]) -> dict[TicketKey, str]:
        keys = list(keys)
        if not keys:
            return {}
        t = ticket_texts
        rows = self.conn.execute(
            sa.select(t.c.tenant_id, t.c.ticket_id, t.c.title, t.c.description)
            .where(sa.tuple_(t.c.tenant_id, t.c.ticket_id).in_(keys)))
        return {(r.tenant_id, r.ticket_id): ticket_text(r.title, r.description) for r in rows}

    def add_corrections(self, corrections: Sequence[Correction]) -> None:
        if not corrections:
            return
        self.conn.execute(_ADD_CORRECTION, [
            {"tenant_id": c.tenant_id, "ticket_id": c.ticket_id, "text": c.text,
             "department": c.department, "source": c.source,
             "routing_version": c.routing_version, "event_id": c.event_id}
            for c in corrections])


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
