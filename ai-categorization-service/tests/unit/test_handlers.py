"""The handlers with in-memory fakes, on batches of one and of many: ticket.created -> one
decision and one event out per ticket; an agent's ticket.routed -> one training example."""
import uuid
from datetime import datetime, timezone

import pytest

from ai_categorization_service.categorizer import Categorizer, Decision
from ai_categorization_service.handlers import (
    get_categorization,
    handle_tickets_created,
    handle_tickets_routed,
    preview,
)
from ai_categorization_service.persistence import NewCategorization
from support_shared.events import (
    EventType,
    TicketCategorized,
    TicketCreated,
    TicketRouted,
    new_event,
)

CREATED_AT = datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)
VPN_TEXT = "VPN down\n\nCannot connect since 9am"


class RecordingCategorizer(Categorizer):
    name = "recording"

    def __init__(self, uow=None, fail_on=None):
        self.uow = uow
        self.fail_on = fail_on
        self.calls = []
        self.prepared = []

    def prepare(self, tickets):
        assert self.uow is None or not self.uow.in_transaction, "prepared inside a transaction"
        self.prepared.append(list(tickets))

    def categorize(self, title, description, requested_priority=None, *, departments=None):
        assert self.uow is None or not self.uow.in_transaction, "categorized inside a transaction"
        if title == self.fail_on:
            raise RuntimeError("a bug in the categorizer")
        self.calls.append((title, description, requested_priority))
        return Decision(department="IT Support", priority="high", confidence=0.88,
                        method="claude", model_version="claude-x", urgency=0.7,
                        input_tokens=300, output_tokens=20, latency_ms=812.5)


def ticket_created(ticket_id=7, tenant="acme", title="VPN down"):
    payload = TicketCreated(title=title, description="Cannot connect since 9am",
                            user_name="Ana", user_email="ana@example.com", priority="medium",
                            created_at=CREATED_AT)
    return new_event(EventType.TICKET_CREATED, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=1, correlation_id="req-123")


def ticket_routed(method="reroute", department="Facilities", ticket_id=7, routing_version=2):
    payload = TicketRouted(department=department, previous_department="IT Support",
                           method=method, routing_version=routing_version)
    return new_event(EventType.TICKET_ROUTED, payload, tenant_id="acme", ticket_id=ticket_id,
                     ticket_version=2)


def categorize_earlier(uow, tenant, ticket_id):
    decision = Decision(department="HR", priority="low", confidence=0.5, method="keywords")
    with uow:
        uow.categorizations.add_many([NewCategorization(tenant, ticket_id, uuid.uuid4(),
                                                        decision, "low")])
        uow.commit()


def test_one_event_stores_one_decision_and_announces_it(uow):
    categorizer = RecordingCategorizer(uow)
    event = ticket_created()
    handle_tickets_created([event], uow=uow, categorizer=categorizer)

    assert categorizer.calls == [("VPN down", "Cannot connect since 9am", "medium")]
    stored = uow.categorizations.get("acme", 7)
    assert stored.decision.department == "IT Support"
    assert stored.requested_priority == "medium"
    assert stored.source_event_id == event.event_id
    [out] = uow.outbox.events
    assert out.event_type == EventType.TICKET_CATEGORIZED
    assert (out.tenant_id, out.ticket_id, out.ticket_version) == ("acme", 7, 1)
    assert out.correlation_id == "req-123"
    assert out.causation_id == str(event.event_id)
    data = TicketCategorized.model_validate(out.data)
    assert (data.department, data.priority, data.method) == ("IT Support", "high", "claude")
    assert (data.requested_priority, data.urgency) == ("medium", 0.7)
    assert data.model_version == "claude-x"
    assert (data.input_tokens, data.output_tokens, data.latency_ms) == (300, 20, 812.5)
    assert data.ticket_created_at == CREATED_AT
    assert uow.commits == 1
    assert uow.training.texts == {("acme", 7): VPN_TEXT}


def test_a_batch_with_a_duplicate_and_an_already_categorized_ticket(uow):
    categorize_earlier(uow, "acme", 3)
    categorizer = RecordingCategorizer(uow)
    first, second = ticket_created(1, title="A"), ticket_created(2, title="B")
    other_event_same_ticket = ticket_created(1, title="A again")
    batch = [first, ticket_created(3, title="C"), second, first, other_event_same_ticket]

    handle_tickets_created(batch, uow=uow, categorizer=categorizer)

    # One bulk prepare and one categorization per ticket still to do, all outside transactions.
    assert categorizer.prepared == [[("A", "Cannot connect since 9am"),
                                     ("B", "Cannot connect since 9am")]]
    assert [c[0] for c in categorizer.calls] == ["A", "B"]
    assert [(e.ticket_id, e.causation_id) for e in uow.outbox.events] == [
        (1, str(first.event_id)), (2, str(second.event_id))]
    assert uow.categorizations.get("acme", 1).source_event_id == first.event_id
    assert uow.categorizations.get("acme", 3).decision.method == "keywords"   # untouched
    assert uow.inbox.seen == {e.event_id for e in batch}
    assert set(uow.training.texts) == {("acme", 1), ("acme", 2)}
    assert uow.commits == 2                       # the setup's and the handler's one write


def test_redelivered_batch_has_no_effect_and_no_second_categorization(uow):
    categorizer = RecordingCategorizer(uow)
    batch = [ticket_created(1), ticket_created(2)]
    handle_tickets_created(batch, uow=uow, categorizer=categorizer)
    handle_tickets_created(batch, uow=uow, categorizer=categorizer)
    handle_tickets_created(batch[:1], uow=uow, categorizer=categorizer)
    assert len(categorizer.calls) == 2
    assert len(uow.categorizations.rows) == 2
    assert len(uow.outbox.events) == 2


def test_batch_equals_one_by_one(uow):
    batch = [ticket_created(1, title="A"), ticket_created(2, title="B"), ticket_created(1)]
    one_by_one = type(uow)()
    handle_tickets_created(batch, uow=uow, categorizer=RecordingCategorizer(uow))
    for event in batch:
        handle_tickets_created([event], uow=one_by_one,
                               categorizer=RecordingCategorizer(one_by_one))

    def effects(u):
        return ({k: (r.source_event_id, r.decision) for k, r in u.categorizations.rows.items()},
                [(e.ticket_id, e.causation_id, e.data) for e in u.outbox.events],
                u.training.texts, u.inbox.seen)

    assert effects(uow) == effects(one_by_one)


def test_event_already_in_inbox_is_not_applied_twice(uow):
    event = ticket_created()
    uow.inbox.claim(event.event_id)            # handled before, its row lost to nothing else
    handle_tickets_created([event], uow=uow, categorizer=RecordingCategorizer(uow))
    assert uow.categorizations.rows == {} and uow.outbox.events == []


def test_an_already_categorized_ticket_costs_no_call_and_publishes_nothing(uow):
    categorize_earlier(uow, "acme", 7)
    categorizer = RecordingCategorizer(uow)
    event = ticket_created()
    handle_tickets_created([event], uow=uow, categorizer=categorizer)
    assert uow.outbox.events == [] and categorizer.calls == [] and categorizer.prepared == []
    assert uow.categorizations.get("acme", 7).decision.method == "keywords"
    assert event.event_id in uow.inbox.seen


def test_same_ticket_id_in_another_tenant_is_separate(uow):
    categorizer = RecordingCategorizer(uow)
    handle_tickets_created([ticket_created(tenant="acme"), ticket_created(tenant="globex")],
                           uow=uow, categorizer=categorizer)
    assert len(uow.outbox.events) == 2
    assert get_categorization("globex", 7, uow=uow) is not None
    assert get_categorization("initech", 7, uow=uow) is None


def test_a_failing_categorization_writes_nothing(uow):
    batch = [ticket_created(1, title="A"), ticket_created(2, title="bad")]
    with pytest.raises(RuntimeError):
        handle_tickets_created(batch, uow=uow, categorizer=RecordingCategorizer(uow, "bad"))
    assert uow.categorizations.rows == {} and uow.outbox.events == []
    assert uow.inbox.seen == set() and uow.commits == 0


def test_preview_stores_nothing(uow):
    categorizer = RecordingCategorizer(uow)
    decision = preview("acme", "VPN", "down", categorizer=categorizer, uow=uow)
    assert decision.department == "IT Support"
    assert categorizer.calls == [("VPN", "down", None)]
    assert uow.categorizations.rows == {} and uow.outbox.events == []


@pytest.mark.parametrize("method", ["manual", "reroute"])
def test_agents_routing_becomes_one_training_example(uow, method):
    handle_tickets_created([ticket_created()], uow=uow, categorizer=RecordingCategorizer(uow))
    event = ticket_routed(method)
    handle_tickets_routed([event], uow=uow)
    handle_tickets_routed([event], uow=uow)                     # redelivered
    [correction] = uow.training.examples.values()
    assert (correction.department, correction.source, correction.routing_version) == (
        "Facilities", method, 2)
    assert correction.event_id == event.event_id
    assert correction.text == VPN_TEXT


def test_a_batch_of_routings_keeps_each_agent_correction_once(uow):
    handle_tickets_created([ticket_created(1), ticket_created(2)], uow=uow,
                           categorizer=RecordingCategorizer(uow))
    manual, reroute = ticket_routed("manual", ticket_id=1), ticket_routed("reroute", ticket_id=2)
    unknown = ticket_routed("manual", ticket_id=9, department="HR")
    batch = [manual, ticket_routed("auto", ticket_id=1), reroute, manual, unknown]

    handle_tickets_routed(batch, uow=uow)

    examples = uow.training.examples
    assert set(examples) == {manual.event_id, reroute.event_id, unknown.event_id}
    assert examples[manual.event_id].text == VPN_TEXT
    assert examples[reroute.event_id].source == "reroute"
    assert examples[unknown.event_id].text is None                # its text is not known yet
    assert uow.inbox.seen >= set(examples)


def test_automatic_routing_teaches_nothing_and_writes_nothing(uow):
    handle_tickets_routed([ticket_routed("auto"), ticket_routed("auto", ticket_id=8)], uow=uow)
    assert uow.training.examples == {} and uow.inbox.seen == set()
    assert uow.transactions == 0


def test_correction_before_the_ticket_text_gets_it_later(uow):
    event = ticket_routed(ticket_id=9)
    handle_tickets_routed([event], uow=uow)
    assert uow.training.examples[event.event_id].text is None
    handle_tickets_created([ticket_created(ticket_id=9)], uow=uow,
                           categorizer=RecordingCategorizer(uow))
    assert uow.training.examples[event.event_id].text == VPN_TEXT
