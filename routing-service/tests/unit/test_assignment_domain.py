"""The assignment policies (pure): round-robin order and wrap, least loaded by share of
capacity, skills, never to an unavailable or full agent, queue order kept."""
from routing_service.assignment.domain import Agent, Assignment, Waiting, choose_agent, plan_drain


def _agent(agent_id, capacity=5, open_tickets=0, status="available", skills=()):
    return Agent("t", f"A{agent_id}", f"a{agent_id}@x.org", capacity, ("IT Support",),
                 tuple(skills), status, open_tickets, id=agent_id)


def _waiting(ticket_id, tags=(), department="IT Support"):
    return Waiting(Assignment("t", ticket_id, department=department), 1, tuple(tags))


def test_round_robin_goes_round_after_the_cursor():
    agents = [_agent(3), _agent(1), _agent(2)]
    plan = plan_drain("round_robin", agents, [_waiting(i) for i in range(1, 7)], cursor=2)
    assert [a.id for _, a in plan.pairs] == [3, 1, 2, 3, 1, 2]
    assert plan.cursor == 2


def test_least_loaded_uses_the_share_of_capacity_and_never_exceeds_it():
    small, large = _agent(1, capacity=2), _agent(2, capacity=8)
    plan = plan_drain("least_loaded", [small, large], [_waiting(i) for i in range(12)], None)
    assert len(plan.pairs) == 10
    assert (small.open_tickets, large.open_tickets) == (2, 8)


def test_nobody_away_or_full_is_chosen_and_manual_chooses_nobody():
    agents = [_agent(1, status="away"), _agent(2, capacity=1, open_tickets=1),
              _agent(3, status="offline")]
    assert choose_agent("least_loaded", agents, _waiting(1), None) is None
    assert choose_agent("manual", [_agent(4)], _waiting(1), None) is None


def test_skills_match_tags_or_category_and_skip_what_nobody_matches():
    vpn = _agent(1, skills=("VPN",))
    general = _agent(2, skills=("it support",))
    queue = [_waiting(1, tags=("printer",), department="Facilities"), _waiting(2, tags=("vpn",)),
             _waiting(3, department="IT Support")]
    plan = plan_drain("skills", [vpn, general], queue, None)
    assert [(w.assignment.ticket_id, a.id) for w, a in plan.pairs] == [(2, 1), (3, 2)]


def test_a_capacity_0_agent_takes_nothing():
    assert plan_drain("least_loaded", [_agent(1, capacity=0)], [_waiting(1)], None).pairs == []
