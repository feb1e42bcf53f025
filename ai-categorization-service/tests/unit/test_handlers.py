"""The handlers with in-memory fakes: ticket.created -> one decision and one event out;
an agent's ticket.routed -> one training example."""
import uuid
from datetime import datetime, timezone

import pytest

from ai_categorization_service.categorizer import Categorizer, Decision
from ai_categorization_service.handlers import (
    get_categorization,
    handle_ticket_created,
    handle_ticket_routed,
    preview,
)
from ai_categorization_service.persistence import CategorizationRepository, StoredCategorization
from ai_categorization_service.training_data import TrainingDataRepository, ticket_text
from support_shared.events import (
    EventType,
    TicketCategorized,
    TicketCreated,
    TicketRouted,
    new_event,
)
from support_shared.messaging.consumer import PermanentError
from support_shared.testing.fakes import FakeInbox, FakeOutbox

CREATED_AT = datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)


class FakeRepository(CategorizationRepository):
    def __init__(self):
        self.rows = {}

    def add(self, tenant_id, ticket_id, source_event_id, decision, requested_priority):
        if (tenant_id, ticket_id) in self.rows:
            return False
        self.rows[(tenant_id, ticket_id)] = StoredCategorization(
            ticket_id, source_event_id, decision, requested_priority, CREATED_AT)
        return True

    def get(self, tenant_id, ticket_id):
        return self.rows.get((tenant_id, ticket_id))

    def exists(self, tenant_id, ticket_id):
        return (tenant_id, ticket_id) in self.rows


class FakeTrainingData(TrainingDataRepository):
    def __init__(self):
        self.texts = {}
        self.examples = {}   # event_id -> [correction, text]

    def remember_text(self, tenant_id, ticket_id, title, description):
        self.texts.setdefault((tenant_id, ticket_id), ticket_text(title, description))
        for example in self.examples.values():
            if (example[0].tenant_id, example[0].ticket_id) == (tenant_id, ticket_id):
                example[1] = example[1] or self.texts[(tenant_id, ticket_id)]

    def text_of(self, tenant_id, ticket_id):
        return self.texts.get((tenant_id, ticket_id))

    def add_correction(self, correction, text):
        if correction.event_id in self.examples:
            return False
        self.examples[correction.event_id] = [correction, text]
        return True

    def snapshot(self):
        return dict(self.texts), {k: list(v) for k, v in self.examples.items()}


class FakeUnitOfWork:
    """Commits copy the pending state; leaving without commit discards it."""

    def __init__(self):
        self.categorizations = FakeRepository()
        self.training = FakeTrainingData()
        self.inbox = FakeInbox()
        self.outbox = FakeOutbox()
        self.in_transaction = False
        self.commits = 0
        self._snapshot = None

    def __enter__(self):
        self.in_transaction = True
        self._snapshot = (dict(self.categorizations.rows), set(self.inbox.seen),
                          list(self.outbox.events), self.training.snapshot())
        return self

    def commit(self):
        self.commits += 1
        self._snapshot = None

    def __exit__(self, *exc):
        if self._snapshot is not None:
            rows, seen, events, (texts, examples) = self._snapshot
            self.categorizations.rows, self.inbox.seen, self.outbox.events = rows, seen, events
            self.training.texts, self.training.examples = texts, examples
        self.in_transaction = False


class RecordingCategorizer(Categorizer):
    name = "recording"

    def __init__(self, uow=None):
        self.uow = uow
        self.calls = []

    def categorize(self, title, description, requested_priority=None):
        assert self.uow is None or not self.uow.in_transaction, "categorized inside a transaction"
        self.calls.append((title, description, requested_priority))
        return Decision(department="IT Support", priority="high", confidence=0.88,
                        method="claude", model_version="claude-x", urgency=0.7,
                        input_tokens=300, output_tokens=20, latency_ms=812.5)


def ticket_created(ticket_id=7, tenant="acme", event_type=EventType.TICKET_CREATED):
    payload = TicketCreated(title="VPN down", description="Cannot connect since 9am",
                            user_name="Ana", user_email="ana@example.com", priority="medium",
                            created_at=CREATED_AT)
    return new_event(event_type, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=1, correlation_id="req-123")


@pytest.fixture
def uow():
    return FakeUnitOfWork()


def test_one_event_stores_one_decision_and_announces_it(uow):
    categorizer = RecordingCategorizer(uow)
    event = ticket_created()
    handle_ticket_created(event, uow=uow, categorizer=categorizer)

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


def test_duplicate_delivery_has_no_effect_and_no_second_categorization(uow):
    categorizer = RecordingCategorizer(uow)
    event = ticket_created()
    handle_ticket_created(event, uow=uow, categorizer=categorizer)
    handle_ticket_created(event, uow=uow, categorizer=categorizer)
    assert len(categorizer.calls) == 1
    assert len(uow.categorizations.rows) == 1
    assert len(uow.outbox.events) == 1


def test_event_already_in_inbox_is_not_applied_twice(uow):
    event = ticket_created()
    uow.inbox.claim(event.event_id)            # handled before, row lost to nothing else
    handle_ticket_created(event, uow=uow, categorizer=RecordingCategorizer(uow))
    assert uow.categorizations.rows == {} and uow.outbox.events == []


def test_second_event_for_an_already_categorized_ticket_publishes_nothing(uow):
    categorizer = RecordingCategorizer(uow)
    first = ticket_created()
    uow.categorizations.add("acme", 7, uuid.uuid4(),
                            categorizer.categorize("x", "y"), "low")   # stored earlier
    handle_ticket_created(first, uow=uow, categorizer=categorizer)
    assert uow.outbox.events == []
    assert len(categorizer.calls) == 1                  # only the setup call


def test_same_ticket_id_in_another_tenant_is_separate(uow):
    categorizer = RecordingCategorizer(uow)
    handle_ticket_created(ticket_created(tenant="acme"), uow=uow, categorizer=categorizer)
    handle_ticket_created(ticket_created(tenant="globex"), uow=uow, categorizer=categorizer)
    assert len(uow.outbox.events) == 2
    assert get_categorization("globex", 7, uow=uow) is not None
    assert get_categorization("initech", 7, uow=uow) is None


def test_wrong_event_type_is_permanent(uow):
    event = ticket_created().model_copy(update={"event_type": EventType.TICKET_STATUS_UPDATED,
                                                "data": {"old_status": "pending",
                                                         "new_status": "closed"}})
    with pytest.raises(PermanentError):
        handle_ticket_created(event, uow=uow, categorizer=RecordingCategorizer(uow))


def test_preview_stores_nothing(uow):
    categorizer = RecordingCategorizer(uow)
    decision = preview("VPN", "down", categorizer=categorizer)
    assert decision.department == "IT Support"
    assert categorizer.calls == [("VPN", "down", None)]
    assert uow.categorizations.rows == {} and uow.outbox.events == []


def ticket_routed(method="reroute", department="Facilities", ticket_id=7, routing_version=2):
    payload = TicketRouted(department=department, previous_department="IT Support",
                           method=method, routing_version=routing_version)
    return new_event(EventType.TICKET_ROUTED, payload, tenant_id="acme", ticket_id=ticket_id,
                     ticket_version=2)


def test_created_ticket_text_is_kept_for_later_corrections(uow):
    handle_ticket_created(ticket_created(), uow=uow, categorizer=RecordingCategorizer(uow))
    assert uow.training.text_of("acme", 7) == "VPN down\n\nCannot connect since 9am"


@pytest.mark.parametrize("method", ["manual", "reroute"])
def test_agents_routing_becomes_one_training_example(uow, method):
    handle_ticket_created(ticket_created(), uow=uow, categorizer=RecordingCategorizer(uow))
    event = ticket_routed(method)
    handle_ticket_routed(event, uow=uow)
    handle_ticket_routed(event, uow=uow)                       # redelivered
    [(correction, text)] = uow.training.examples.values()
    assert (correction.department, correction.source, correction.routing_version) == (
        "Facilities", method, 2)
    assert correction.event_id == event.event_id
    assert text == "VPN down\n\nCannot connect since 9am"


def test_automatic_routing_teaches_nothing(uow):
    handle_ticket_routed(ticket_routed("auto"), uow=uow)
    assert uow.training.examples == {} and uow.inbox.seen == set()


def test_correction_before_the_ticket_text_gets_it_later(uow):
    handle_ticket_routed(ticket_routed(ticket_id=9), uow=uow)
    [(correction, text)] = uow.training.examples.values()
    assert text is None
    handle_ticket_created(ticket_created(ticket_id=9), uow=uow,
                          categorizer=RecordingCategorizer(uow))
    assert uow.training.examples[correction.event_id][1] == "VPN down\n\nCannot connect since 9am"


def test_routed_handler_refuses_other_events(uow):
    with pytest.raises(PermanentError):
        handle_ticket_routed(ticket_created(), uow=uow)
