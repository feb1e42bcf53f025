"""Agents, assignments and round-robin cursors in PostgreSQL (and the abstract repository the
test fakes subclass).

Every assignment decision of a tenant runs under that tenant's transaction-scoped advisory
lock (``lock_tenant``), so two consumers or web workers never plan with the same counts; the
load change itself is a conditional UPDATE (``open_tickets + n <= capacity``), so even a
planning error cannot put an agent over capacity: it raises and the transaction rolls back.
"""
from __future__ import annotations

import abc
import dataclasses
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection
from support_shared.bulk import bulk_upsert
from support_shared.db import row_of

from ..tables import agents, assignment_cursors, assignments, routed_tickets
from .domain import Agent, Assignment, Waiting

_AGENT_FIELDS = tuple(f.name for f in dataclasses.fields(Agent))
_ASSIGNMENT_FIELDS = tuple(f.name for f in dataclasses.fields(Assignment))


class AssignmentRepository(abc.ABC):
    @abc.abstractmethod
    def lock_tenant(self, tenant_id: str) -> None:
        """Serialize the tenant's assignment decisions until the transaction ends."""

    @abc.abstractmethod
    def agents(self, tenant_id: str) -> list[Agent]:
        """The tenant's agents, oldest first."""

    @abc.abstractmethod
    def agent(self, tenant_id: str, agent_id: int) -> Agent | None: ...

    @abc.abstractmethod
    def page_agents(self, tenant_id: str, *, after: int | None, limit: int) -> list[Agent]: ...

    @abc.abstractmethod
    def add_agent(self, agent: Agent) -> int | None:
        """The new agent's id; None when the tenant has an agent with that email."""

    @abc.abstractmethod
    def update_agent(self, agent: Agent) -> None:
        """Write the editable fields and version (not ``open_tickets``)."""

    @abc.abstractmethod
    def change_load(self, tenant_id: str, agent_id: int, delta: int) -> bool:
        """Add ``delta`` to the agent's open tickets; False (nothing changed) when a positive
        ``delta`` does not fit an available agent's capacity."""

    @abc.abstractmethod
    def set_load(self, tenant_id: str, agent_id: int, open_tickets: int) -> None: ...

    @abc.abstractmethod
    def get_many(self, tenant_id: str, ticket_ids: Sequence[int]) -> dict[int, Assignment]: ...

    @abc.abstractmethod
    def save_many(self, rows: Sequence[Assignment]) -> None:
        """Insert or replace these distinct assignments."""

    @abc.abstractmethod
    def queue(self, tenant_id: str, department: str) -> list[Waiting]:
        """The department's waiting tickets, oldest first."""

    @abc.abstractmethod
    def held_by(self, tenant_id: str, agent_id: int) -> list[Waiting]:
        """The agent's open tickets."""

    @abc.abstractmethod
    def cursor(self, tenant_id: str, department: str) -> int | None: ...

    @abc.abstractmethod
    def set_cursor(self, tenant_id: str, department: str, agent_id: int) -> None: ...


def _agent(row: Any) -> Agent:
    m = row._mapping
    agent = Agent(**{n: m[n] for n in _AGENT_FIELDS})
    agent.departments, agent.skills = tuple(agent.departments), tuple(agent.skills)
    return agent


def _assignment(row: Any) -> Assignment:
    m = row._mapping
    return Assignment(**{n: m[n] for n in _ASSIGNMENT_FIELDS})


_A, _T = assignments, routed_tickets
_WAITING = (sa.select(_A, _T.c.ticket_version, _T.c.tags)
            .join(_T, (_T.c.tenant_id == _A.c.tenant_id) & (_T.c.ticket_id == _A.c.ticket_id)))
_REPLACED = ("department", "agent_id", "open", "assignment_version", "status_version", "queued_at")
# A batch's assignments in one statement (``support_shared.bulk``).
_UPSERT = bulk_upsert(_A, key=("tenant_id", "ticket_id"),
                      columns=("tenant_id", "ticket_id", *_REPLACED),
                      set_={**{c: f"excluded.{c}" for c in _REPLACED}, "updated_at": "now()"},
                      last_wins=True)


def _waiting(row: Any) -> Waiting:
    return Waiting(_assignment(row), row.ticket_version, tuple(row.tags or ()))


class SqlAssignmentRepository(AssignmentRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._locked: set[str] = set()   # this transaction's locks (the repository's lifetime)

    def lock_tenant(self, tenant_id: str) -> None:
        if tenant_id in self._locked:
            return
        self._locked.add(tenant_id)
        self.conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
            sa.func.hashtextextended("routing.assignment:" + tenant_id, 0))))

    def agents(self, tenant_id: str) -> list[Agent]:
        rows = self.conn.execute(sa.select(agents).where(agents.c.tenant_id == tenant_id)
                                 .order_by(agents.c.id))
        return [_agent(r) for r in rows]

    def agent(self, tenant_id: str, agent_id: int) -> Agent | None:
        row = self.conn.execute(sa.select(agents).where(agents.c.tenant_id == tenant_id,
                                                        agents.c.id == agent_id)).first()
        return _agent(row) if row else None

    def page_agents(self, tenant_id: str, *, after: int | None, limit: int) -> list[Agent]:
        query = sa.select(agents).where(agents.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(agents.c.id > after)
        return [_agent(r) for r in self.conn.execute(query.order_by(agents.c.id).limit(limit))]

    def add_agent(self, agent: Agent) -> int | None:
        values = {n: getattr(agent, n) for n in _AGENT_FIELDS if n != "id"}
        values.update(departments=list(agent.departments), skills=list(agent.skills))
        # The unique index on (tenant_id, lower(email)) settles concurrent creates.
        stmt = pg.insert(agents).values(values).on_conflict_do_nothing().returning(agents.c.id)
        row = self.conn.execute(stmt).first()
        return int(row.id) if row else None

    def update_agent(self, agent: Agent) -> None:
        self.conn.execute(
            agents.update().where(agents.c.tenant_id == agent.tenant_id, agents.c.id == agent.id)
            .values(name=agent.name, departments=list(agent.departments),
                    skills=list(agent.skills), capacity=agent.capacity, status=agent.status,
                    version=agent.version, updated_at=sa.func.now()))

    def change_load(self, tenant_id: str, agent_id: int, delta: int) -> bool:
        stmt = (agents.update().where(agents.c.tenant_id == tenant_id, agents.c.id == agent_id)
                .values(open_tickets=agents.c.open_tickets + delta))
        if delta > 0:
            stmt = stmt.where(agents.c.open_tickets + delta <= agents.c.capacity,
                              agents.c.status == "available")
        return self.conn.execute(stmt).rowcount == 1

    def set_load(self, tenant_id: str, agent_id: int, open_tickets: int) -> None:
        self.conn.execute(agents.update()
                          .where(agents.c.tenant_id == tenant_id, agents.c.id == agent_id)
                          .values(open_tickets=open_tickets))

    def get_many(self, tenant_id: str, ticket_ids: Sequence[int]) -> dict[int, Assignment]:
        if not ticket_ids:
            return {}
        rows = self.conn.execute(sa.select(_A).where(_A.c.tenant_id == tenant_id,
                                                     _A.c.ticket_id.in_(list(ticket_ids))))
        return {r.ticket_id: _assignment(r) for r in rows}

    def save_many(self, rows: Sequence[Assignment]) -> None:
        _UPSERT.execute(self.conn, [row_of(r) for r in sorted(rows, key=lambda r: r.ticket_id)])

    def queue(self, tenant_id: str, department: str) -> list[Waiting]:
        query = (_WAITING.where(_A.c.tenant_id == tenant_id, _A.c.open, _A.c.agent_id.is_(None),
                                sa.func.lower(_A.c.department) == department.strip().lower())
                 .order_by(_A.c.queued_at, _A.c.ticket_id))
        return [_waiting(r) for r in self.conn.execute(query)]

    def held_by(self, tenant_id: str, agent_id: int) -> list[Waiting]:
        query = (_WAITING.where(_A.c.tenant_id == tenant_id, _A.c.open, _A.c.agent_id == agent_id)
                 .order_by(_A.c.queued_at, _A.c.ticket_id))
        return [_waiting(r) for r in self.conn.execute(query)]

    def cursor(self, tenant_id: str, department: str) -> int | None:
        c = assignment_cursors
        return self.conn.execute(sa.select(c.c.last_agent_id).where(
            c.c.tenant_id == tenant_id, c.c.department == department.strip().lower())).scalar()

    def set_cursor(self, tenant_id: str, department: str, agent_id: int) -> None:
        c = assignment_cursors
        stmt = pg.insert(c).values(tenant_id=tenant_id, department=department.strip().lower(),
                                   last_agent_id=agent_id)
        self.conn.execute(stmt.on_conflict_do_update(
            index_elements=[c.c.tenant_id, c.c.department],
            set_={"last_agent_id": stmt.excluded.last_agent_id}))
