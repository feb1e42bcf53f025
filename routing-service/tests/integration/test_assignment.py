"""Assignment against the real database: round-robin fairness over 1,000 tickets, least-loaded
with unequal capacities, two consumers assigning at once never over capacity, hand-back when an
agent goes away, slots freed by resolved tickets."""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Callable

import pytest

from routing_service.assignment.agents import create_agent, update_agent
from routing_service.assignment.domain import Agent
from routing_service.assignment.manual import set_assignee
from routing_service.departments import update_department
from routing_service.handlers import (handle_tickets_categorized, handle_tickets_created,
                                      handle_tickets_status_updated)
from routing_service.persistence import RoutingUnitOfWork
from support_shared.events import EventType, TicketStatusUpdated, new_event

pytestmark = pytest.mark.integration

TENANT = "acme"


@pytest.fixture
def route(new_uow: Callable[[], RoutingUnitOfWork], events: Any) -> Callable[..., None]:
    """Create and categorize tickets ``ids`` (to ``department``) through the real handlers, in
    batches of ``batch``."""

    def run(ids: range, department: str = "IT Support", batch: int = 100) -> None:
        ids = list(ids)
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            handle_tickets_created([events.created(i, tenant=TENANT) for i in chunk],
                                   uow=new_uow())
            handle_tickets_categorized([events.categorized(i, department, tenant=TENANT)
                                        for i in chunk], uow=new_uow())

    return run


def _agents(new_uow: Callable[[], RoutingUnitOfWork], *capacities: int,
            department: str = "IT Support") -> list[int]:
    ids = []
    for n, capacity in enumerate(capacities):
        agent = create_agent(Agent(TENANT, f"Agent {n}", f"a{n}@example.com", capacity,
                                   departments=(department,)), uow=new_uow())
        assert agent.id is not None
        ids.append(agent.id)
    return ids


def _policy(new_uow: Callable[[], RoutingUnitOfWork], policy: str,
            department: str = "IT Support") -> None:
    update_department(TENANT, department, {"assignment_policy": policy}, uow=new_uow())


def _held(query: Callable[..., list[Any]]) -> Counter[int]:
    rows = query("SELECT agent_id, count(*) FROM assignments WHERE tenant_id = :t AND open "
                 "AND agent_id IS NOT NULL GROUP BY agent_id", t=TENANT)
    return Counter({agent_id: count for agent_id, count in rows})


def _loads(query: Callable[..., list[Any]]) -> dict[int, tuple[int, int]]:
    rows = query("SELECT id, open_tickets, capacity FROM agents WHERE tenant_id = :t", t=TENANT)
    return {agent_id: (load, capacity) for agent_id, load, capacity in rows}


def _assigned_events(query: Callable[..., list[Any]]) -> list[Any]:
    return query("SELECT payload FROM outbox WHERE routing_key = 'ticket.assigned'")


def test_round_robin_gives_1000_tickets_to_5_agents_200_each(new_uow, route, query):
    agents = _agents(new_uow, *[1000] * 5)
    _policy(new_uow, "round_robin")
    route(range(1, 1001))
    held = _held(query)
    assert sorted(held) == sorted(agents)
    assert max(held.values()) - min(held.values()) <= 1, held
    assert sum(held.values()) == 1000
    assert {a: load for a, (load, _) in _loads(query).items()} == dict(held)
    assert len(_assigned_events(query)) == 1000


def test_least_loaded_respects_unequal_capacities(new_uow, route, query):
    small, large = _agents(new_uow, 2, 8)
    _policy(new_uow, "least_loaded")
    route(range(1, 13), batch=5)
    held = _held(query)
    assert held == {small: 2, large: 8}
    waiting = query("SELECT count(*) FROM assignments WHERE open AND agent_id IS NULL")
    assert waiting == [(2,)]


def test_two_consumers_assigning_at_once_never_exceed_capacity(new_uow, events, query):
    agents = _agents(new_uow, 7, 11, 13)
    _policy(new_uow, "least_loaded")
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def consumer(ids: range) -> None:
        try:
            barrier.wait(timeout=30)
            for start in range(ids.start, ids.stop, 10):
                chunk = range(start, min(start + 10, ids.stop))
                handle_tickets_created([events.created(i, tenant=TENANT) for i in chunk],
                                       uow=new_uow())
                handle_tickets_categorized([events.categorized(i, tenant=TENANT)
                                            for i in chunk], uow=new_uow())
        except BaseException as exc:   # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=consumer, args=(r,))
               for r in (range(1, 101), range(101, 201))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors, errors
    held = _held(query)
    loads = _loads(query)
    for agent_id in agents:
        load, capacity = loads[agent_id]
        assert held[agent_id] == load == capacity, (agent_id, held, loads)
    assert query("SELECT count(*) FROM assignments WHERE open AND agent_id IS NULL") == [(169,)]


def _status(ticket_id: int, new: str, old: str, version: int):
    return new_event(EventType.TICKET_STATUS_UPDATED,
                     TicketStatusUpdated(old_status=old, new_status=new), tenant_id=TENANT,
                     ticket_id=ticket_id, ticket_version=version)


def test_a_resolved_ticket_frees_a_slot_and_the_queue_moves(new_uow, route, query):
    [agent] = _agents(new_uow, 1)
    _policy(new_uow, "round_robin")
    route(range(1, 4))
    assert query("SELECT ticket_id FROM assignments WHERE agent_id IS NOT NULL AND open") == [(1,)]
    handle_tickets_status_updated([_status(1, "resolved", "in_progress", 5)], uow=new_uow())
    assert query("SELECT ticket_id FROM assignments WHERE agent_id IS NOT NULL AND open") == [(2,)]
    assert _loads(query)[agent] == (1, 1)
    # A stale status (older version) changes nothing; a reopened ticket waits (agent full).
    handle_tickets_status_updated([_status(1, "in_progress", "pending", 3)], uow=new_uow())
    assert _held(query) == {agent: 1}
    handle_tickets_status_updated([_status(1, "in_progress", "resolved", 6)], uow=new_uow())
    assert _held(query) == {agent: 1}
    unassigned = query("SELECT payload FROM outbox WHERE routing_key = 'ticket.unassigned'")
    assert [p["data"]["reason"] for (p,) in unassigned] == ["reopened"]


def test_an_agent_going_away_hands_back_their_tickets(new_uow, route, query):
    first, second = _agents(new_uow, 5, 3)
    _policy(new_uow, "round_robin")
    route(range(1, 7))
    assert _held(query) == {first: 3, second: 3}
    update_agent(TENANT, first, {"status": "away"}, uow=new_uow())
    assert _held(query) == {second: 3}
    assert _loads(query)[first] == (0, 5)
    waiting = query("SELECT count(*) FROM assignments WHERE open AND agent_id IS NULL")
    assert waiting == [(3,)]
    unassigned = query("SELECT payload FROM outbox WHERE routing_key = 'ticket.unassigned'")
    assert sorted(p["ticket_id"] for (p,) in unassigned) == [1, 3, 5]
    assert {p["data"]["reason"] for (p,) in unassigned} == {"agent_away"}
    update_agent(TENANT, first, {"status": "available"}, uow=new_uow())
    assert _held(query) == {first: 3, second: 3}


def test_assignment_by_hand_respects_status_and_capacity(new_uow, route, query):
    first, second = _agents(new_uow, 1, 1)
    route(range(1, 4))          # manual policy: everything waits
    assert _held(query) == {}
    result = set_assignee(TENANT, 1, first, uow=new_uow())
    assert (result.agent_id, result.changed) == (first, True)
    assert set_assignee(TENANT, 1, first, uow=new_uow()).changed is False
    from routing_service.assignment.domain import AgentUnavailableError
    with pytest.raises(AgentUnavailableError):
        set_assignee(TENANT, 2, first, uow=new_uow())
    update_agent(TENANT, second, {"status": "away"}, uow=new_uow())
    with pytest.raises(AgentUnavailableError):
        set_assignee(TENANT, 2, second, uow=new_uow())
    set_assignee(TENANT, 1, None, uow=new_uow())
    assert _held(query) == {}
    assert _loads(query)[first] == (0, 1)



def test_skills_match_the_newest_tags_or_the_category(new_uow, events, query):
    from routing_service.handlers import handle_tickets_updated
    from support_shared.events import FieldChange, TicketUpdated

    def tagged(ticket_id: int, tags: list[str], version: int):
        payload = TicketUpdated(changes={"tags": FieldChange(old=[], new=tags)})
        return new_event(EventType.TICKET_UPDATED, payload, tenant_id=TENANT,
                         ticket_id=ticket_id, ticket_version=version)

    vee = create_agent(Agent(TENANT, "Vee", "v@example.com", 5, departments=("IT Support",),
                             skills=("vpn",)), uow=new_uow()).id
    dee = create_agent(Agent(TENANT, "Dee", "d@example.com", 5, departments=("IT Support",),
                             skills=("printer",)), uow=new_uow()).id
    _policy(new_uow, "skills")
    handle_tickets_created([events.created(i, tenant=TENANT) for i in (1, 2, 3)], uow=new_uow())
    # Out of order: the newer edit of the tags wins whichever comes first.
    handle_tickets_updated([tagged(1, ["Printer"], 3), tagged(1, ["vpn"], 2)], uow=new_uow())
    handle_tickets_updated([tagged(2, ["printer"], 2)], uow=new_uow())
    handle_tickets_updated([tagged(2, ["VPN"], 3)], uow=new_uow())
    assert dict(query("SELECT ticket_id, tags FROM routed_tickets WHERE ticket_id < 3")) == {
        1: ["Printer"], 2: ["VPN"]}
    handle_tickets_categorized([events.categorized(i, tenant=TENANT) for i in (1, 2, 3)],
                               uow=new_uow())
    assert dict(query("SELECT ticket_id, agent_id FROM assignments")) == {1: dee, 2: vee,
                                                                         3: None}
    # A skill naming the category matches too: ticket 3 (IT Support, no tags) goes to her.
    update_agent(TENANT, dee, {"skills": ["printer", "IT support"]}, uow=new_uow())
    assert dict(query("SELECT ticket_id, agent_id FROM assignments"))[3] == dee
