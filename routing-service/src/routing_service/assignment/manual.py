"""Assignment by hand (``PUT /api/tickets/{id}/assignee``): give a routed ticket to an agent,
or take it from its agent (it then waits in its department's queue until the next drain).

The same limits as the policies: never to an agent who is away or offline, never above
capacity. A person's choice is not undone by a policy: a ticket keeps its agent until it is
resolved, rerouted, unassigned by hand or its agent goes away.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from support_shared.events import utcnow

from ..domain import TicketClosedError, TicketNotFoundError, TicketNotRoutedError
from ..persistence import RoutingUnitOfWork
from .domain import AgentNotFoundError, AgentUnavailableError, Assignment
from .engine import Context, assigned_event, departments_of, drain, unassign

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssigneeResult:
    ticket_id: int
    department: str
    agent_id: int | None
    previous_agent_id: int | None
    assignment_version: int
    changed: bool


def set_assignee(tenant_id: str, ticket_id: int, agent_id: int | None, *,
                 uow: RoutingUnitOfWork, correlation_id: str | None = None) -> AssigneeResult:
    """Give the ticket to ``agent_id`` (None: to nobody); nothing recorded if already so."""
    ctx = Context(tenant_id, utcnow(), correlation_id)
    with uow:
        uow.assignments.lock_tenant(tenant_id)
        ticket = uow.tickets.get(tenant_id, ticket_id)
        if ticket is None or ticket.deleted:
            raise TicketNotFoundError(ticket_id)
        if ticket.closed:
            raise TicketClosedError(ticket_id)
        if ticket.department is None:
            raise TicketNotRoutedError(ticket_id)
        row = uow.assignments.get_many(tenant_id, [ticket_id]).get(ticket_id) or Assignment(
            tenant_id, ticket_id, department=ticket.department, queued_at=ctx.now)
        previous = row.agent_id if row.open else None
        if not row.open or previous == agent_id:
            uow.commit()
            return AssigneeResult(ticket_id, ticket.department, previous, previous,
                                  row.assignment_version, changed=False)
        if agent_id is None:
            assert previous is not None
            unassign(uow, ctx, row, ticket.ticket_version, "manual")
        else:
            _give(uow, ctx, row, agent_id, previous, ticket.ticket_version)
        uow.assignments.save_many([row])
        if previous is not None:
            drain(uow, ctx, departments_of(uow.assignments.agents(tenant_id), [previous]))
        uow.commit()
    logger.info("ticket %s assigned by hand to %s (was %s)", ticket_id, agent_id, previous)
    return AssigneeResult(ticket_id, ticket.department, agent_id, previous,
                          row.assignment_version, changed=True)


def _give(uow: RoutingUnitOfWork, ctx: Context, row: Assignment, agent_id: int,
          previous: int | None, ticket_version: int) -> None:
    agent = uow.assignments.agent(ctx.tenant_id, agent_id)
    if agent is None:
        raise AgentNotFoundError(agent_id)
    if not agent.available:
        raise AgentUnavailableError(agent_id, f"the agent is {agent.status}")
    if not uow.assignments.change_load(ctx.tenant_id, agent_id, 1):
        raise AgentUnavailableError(agent_id, f"the agent is at capacity ({agent.capacity})")
    if previous is not None:
        uow.assignments.change_load(ctx.tenant_id, previous, -1)
    row.agent_id = agent_id
    row.assignment_version += 1
    uow.outbox.add(assigned_event(ctx, row, agent, ticket_version, previous, "manual", "manual"))
