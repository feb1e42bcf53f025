"""Assignment decisions, made inside the caller's transaction: queue routed tickets in their
department, drain departments' queues by their policy, free slots, hand back an agent's tickets.

Each function takes the tenant's assignment lock first, writes the assignments and the agents'
loads, and adds ``ticket.assigned`` / ``ticket.unassigned`` events (each with the ticket's
next ``assignment_version``) to the outbox; the caller commits.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Literal, Sequence

from support_shared.events import (Envelope, EventType, TicketAssigned, TicketUnassigned,
                                   new_event)

from ..domain import department_key
from ..persistence import RoutingUnitOfWork
from .domain import Agent, Assignment, CapacityExceededError, Waiting, plan_drain

logger = logging.getLogger(__name__)

UnassignReason = Literal["agent_away", "rerouted", "reopened", "manual"]


@dataclass(frozen=True)
class Context:
    """Who asks and why: the tenant, the time, and the chain the events belong to."""

    tenant_id: str
    now: datetime
    correlation_id: str | None = None
    causation_id: str | None = None


@dataclass(frozen=True)
class Routed:
    """A ticket routing just sent to ``department``."""

    ticket_id: int
    department: str
    ticket_version: int


def assigned_event(ctx: Context, row: Assignment, agent: Agent, ticket_version: int,
                   previous: int | None, method: Literal["auto", "manual"],
                   policy: str) -> Envelope:
    assert agent.id is not None and row.department is not None
    payload = TicketAssigned(agent_id=agent.id, agent_name=agent.name, department=row.department,
                             previous_agent_id=previous, method=method, policy=policy,
                             assignment_version=row.assignment_version)
    return new_event(EventType.TICKET_ASSIGNED, payload, tenant_id=ctx.tenant_id,
                     ticket_id=row.ticket_id, ticket_version=ticket_version,
                     correlation_id=ctx.correlation_id, causation_id=ctx.causation_id,
                     occurred_at=ctx.now)


def unassign(uow: RoutingUnitOfWork, ctx: Context, row: Assignment, ticket_version: int,
             reason: UnassignReason, *, free: bool = True) -> None:
    """Take ``row``'s ticket from its agent (their slot freed unless ``free`` is False) and put
    it in its department's queue; one ``ticket.unassigned``."""
    previous = row.agent_id
    assert previous is not None
    if free and not uow.assignments.change_load(ctx.tenant_id, previous, -1):
        raise CapacityExceededError(f"agent {previous} has no row to free")
    row.agent_id, row.queued_at = None, ctx.now
    row.assignment_version += 1
    payload = TicketUnassigned(previous_agent_id=previous, department=row.department,
                               reason=reason, assignment_version=row.assignment_version)
    uow.outbox.add(new_event(EventType.TICKET_UNASSIGNED, payload, tenant_id=ctx.tenant_id,
                             ticket_id=row.ticket_id, ticket_version=ticket_version,
                             correlation_id=ctx.correlation_id, causation_id=ctx.causation_id,
                             occurred_at=ctx.now))


def enqueue(uow: RoutingUnitOfWork, ctx: Context, routed: Sequence[Routed]) -> None:
    """Queue freshly routed tickets in their new department (a ticket rerouted away from its
    agent is unassigned first) and drain those departments and the freed agents' ones."""
    if not routed:
        return
    uow.assignments.lock_tenant(ctx.tenant_id)
    current = uow.assignments.get_many(ctx.tenant_id, [r.ticket_id for r in routed])
    rows: dict[int, Assignment] = {}
    freed: list[int] = []
    for r in routed:
        row = rows.get(r.ticket_id) or current.get(r.ticket_id) or Assignment(
            ctx.tenant_id, r.ticket_id, queued_at=ctx.now)
        same = row.department is not None and (department_key(row.department)
                                               == department_key(r.department))
        if same and row.agent_id is not None:
            continue
        if row.open and row.agent_id is not None:
            freed.append(row.agent_id)
            unassign(uow, ctx, row, r.ticket_version, "rerouted")
        row.department = r.department
        rows[r.ticket_id] = row
    uow.assignments.save_many(list(rows.values()))
    departments = {r.department for r in routed}
    if freed:
        departments |= departments_of(uow.assignments.agents(ctx.tenant_id), freed)
    drain(uow, ctx, departments)


def drain(uow: RoutingUnitOfWork, ctx: Context, departments: Iterable[str]) -> int:
    """Give the waiting tickets of ``departments`` to agents by each one's policy; how many
    were assigned. Takes the tenant's assignment lock."""
    uow.assignments.lock_tenant(ctx.tenant_id)
    names = sorted({department_key(d): d for d in departments}.items())
    agents = uow.assignments.agents(ctx.tenant_id) if names else []
    return sum(_drain_one(uow, ctx, name, agents) for _, name in names)


def _drain_one(uow: RoutingUnitOfWork, ctx: Context, name: str, agents: list[Agent]) -> int:
    staff = [a for a in agents if a.serves(name)]
    if not any(a.has_room for a in staff):
        return 0
    department = uow.departments.get(ctx.tenant_id, name)
    if department is None or department.assignment_policy == "manual":
        return 0
    queue = uow.assignments.queue(ctx.tenant_id, name)
    cursor = uow.assignments.cursor(ctx.tenant_id, name)
    plan = plan_drain(department.assignment_policy, staff, queue, cursor)
    if not plan.pairs:
        return 0
    _take_slots(uow, ctx.tenant_id, plan.pairs)
    for waiting, agent in plan.pairs:
        row = waiting.assignment
        row.agent_id = agent.id
        row.assignment_version += 1
        uow.outbox.add(assigned_event(ctx, row, agent, waiting.ticket_version, None, "auto",
                                      department.assignment_policy))
    uow.assignments.save_many([w.assignment for w, _ in plan.pairs])
    if plan.cursor is not None and department.assignment_policy == "round_robin":
        uow.assignments.set_cursor(ctx.tenant_id, name, plan.cursor)
    logger.info("assigned %d of %d waiting tickets in %s (%s) for tenant %s", len(plan.pairs),
                len(queue), name, department.assignment_policy, ctx.tenant_id)
    return len(plan.pairs)


def _take_slots(uow: RoutingUnitOfWork, tenant_id: str,
                pairs: Sequence[tuple[Waiting, Agent]]) -> None:
    """One conditional UPDATE per agent; one that does not fit aborts the transaction."""
    counts: dict[int, int] = {}
    for _, agent in pairs:
        assert agent.id is not None
        counts[agent.id] = counts.get(agent.id, 0) + 1
    for agent_id, count in sorted(counts.items()):
        if not uow.assignments.change_load(tenant_id, agent_id, count):
            raise CapacityExceededError(f"agent {agent_id} cannot take {count} more tickets")


def departments_of(agents: Iterable[Agent], agent_ids: Iterable[int]) -> set[str]:
    wanted = set(agent_ids)
    return {d for a in agents if a.id in wanted for d in a.departments}


def close(uow: RoutingUnitOfWork, ctx: Context, done: dict[int, int]) -> None:
    """Tickets resolved, closed or deleted (``done``: ticket id -> the event's ticket
    version): each frees its agent's slot, and the freed agents' departments are drained.
    A stale event (not newer than the status the assignment holds) changes nothing."""
    uow.assignments.lock_tenant(ctx.tenant_id)
    current = uow.assignments.get_many(ctx.tenant_id, list(done))
    rows, freed = [], []
    for ticket_id, version in done.items():
        row = current.get(ticket_id) or Assignment(ctx.tenant_id, ticket_id, open=False,
                                                   queued_at=ctx.now)
        if ticket_id in current and version <= row.status_version:
            continue
        if row.open and row.agent_id is not None:
            if not uow.assignments.change_load(ctx.tenant_id, row.agent_id, -1):
                raise CapacityExceededError(f"agent {row.agent_id} has no row to free")
            freed.append(row.agent_id)
        row.open, row.status_version = False, version
        rows.append(row)
    uow.assignments.save_many(rows)
    if freed:
        drain(uow, ctx, departments_of(uow.assignments.agents(ctx.tenant_id), freed))


def reopen(uow: RoutingUnitOfWork, ctx: Context, reopened: dict[int, int]) -> None:
    """Tickets open again (``reopened``: ticket id -> version): each goes back to its agent if
    they are available with room, else it is unassigned and waits in its department."""
    uow.assignments.lock_tenant(ctx.tenant_id)
    current = uow.assignments.get_many(ctx.tenant_id, list(reopened))
    rows, departments = [], set()
    for ticket_id, version in reopened.items():
        row = current.get(ticket_id)
        if row is None or row.open or version <= row.status_version:
            continue
        row.open, row.status_version = True, version
        rows.append(row)
        if row.agent_id is not None and not uow.assignments.change_load(
                ctx.tenant_id, row.agent_id, 1):
            unassign(uow, ctx, row, version, "reopened", free=False)
        if row.agent_id is None and row.department is not None:
            departments.add(row.department)
    uow.assignments.save_many(rows)
    drain(uow, ctx, departments)
