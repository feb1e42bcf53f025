"""Assignment in the handlers (fakes): routed tickets go round robin in batches of 1 and N with
a duplicate inside, a closed ticket frees its slot, an away agent hands back, the events carry
growing assignment versions."""
from routing_service.assignment.agents import create_agent, update_agent
from routing_service.assignment.domain import Agent
from routing_service.departments import update_department
from routing_service.handlers import (handle_tickets_categorized, handle_tickets_created,
                                      handle_tickets_status_updated)
from routing_service.testing import FakeRoutingUnitOfWork, categorized, created, status_updated
from support_shared.events import EventType


def _team(uow, *capacities):
    ids = [create_agent(Agent("default", f"A{n}", f"a{n}@x.org", c, ("IT Support",)), uow=uow).id
           for n, c in enumerate(capacities)]
    update_department("default", "IT Support", {"assignment_policy": "round_robin"}, uow=uow)
    return ids


def _assigned(uow):
    return [(e.ticket_id, e.payload().agent_id, e.payload().assignment_version)
            for e in uow.outbox.events if e.event_type == EventType.TICKET_ASSIGNED]


def test_batches_of_one_and_many_assign_round_robin_once_each():
    uow = FakeRoutingUnitOfWork()
    first, second = _team(uow, 5, 5)
    handle_tickets_created([created(i) for i in (1, 2, 3)], uow=uow)
    handle_tickets_categorized([categorized(1)], uow=uow)
    duplicate = categorized(2)
    handle_tickets_categorized([duplicate, duplicate, categorized(3)], uow=uow)
    assert _assigned(uow) == [(1, first, 1), (2, second, 1), (3, first, 1)]
    assert {a.id: a.open_tickets for a in uow.assignments.agents("default")} == {first: 2,
                                                                                 second: 1}


def test_a_closed_ticket_frees_its_slot_and_an_away_agent_hands_back():
    uow = FakeRoutingUnitOfWork()
    [only] = _team(uow, 1)
    handle_tickets_created([created(i) for i in (1, 2)], uow=uow)
    handle_tickets_categorized([categorized(1), categorized(2)], uow=uow)
    assert _assigned(uow) == [(1, only, 1)]
    handle_tickets_status_updated([status_updated(1, "closed", version=5)], uow=uow)
    assert _assigned(uow)[-1] == (2, only, 1)
    update_agent("default", only, {"status": "away"}, uow=uow)
    [unassigned] = [e for e in uow.outbox.events if e.event_type == EventType.TICKET_UNASSIGNED]
    assert (unassigned.ticket_id, unassigned.payload().assignment_version) == (2, 2)
    assert uow.assignments.agents("default")[0].open_tickets == 0


def test_a_rerouted_ticket_leaves_its_agent_who_takes_the_next_waiting_one():
    uow = FakeRoutingUnitOfWork()
    [only] = _team(uow, 1)
    handle_tickets_created([created(i) for i in (1, 2)], uow=uow)
    handle_tickets_categorized([categorized(1), categorized(2)], uow=uow)
    handle_tickets_categorized([categorized(1, "HR", version=2)], uow=uow)
    [unassigned] = [e for e in uow.outbox.events if e.event_type == EventType.TICKET_UNASSIGNED]
    assert (unassigned.ticket_id, unassigned.payload().reason) == (1, "rerouted")
    assert _assigned(uow) == [(1, only, 1), (2, only, 1)]
