"""A batch of ticket.created has the effects of its events handled one at a time, on the real
database (one at a time: the same handler called with ``[envelope]``)."""
from datetime import datetime, timezone

import orjson
import pytest
import sqlalchemy as sa

from ai_categorization_service.categorizer import Categorizer, Decision
from ai_categorization_service.handlers import handle_tickets_created
from support_shared.events import EventType, InvalidEventError, TicketCreated, decode, new_event

pytestmark = pytest.mark.integration

CREATED_AT = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


class ByFirstWord(Categorizer):
    name = "local_model"

    def __init__(self):
        self.calls = []

    def categorize(self, title, description, requested_priority=None, *, departments=None):
        self.calls.append(title)
        department = {"wifi": "IT Support", "desk": "Facilities"}.get(title.split()[0], "HR")
        return Decision(department=department, priority="high", confidence=0.9,
                        method="local_model", model_version="v-test", urgency=0.5)


def created(ticket_id, title, tenant="acme"):
    payload = TicketCreated(title=title, description=f"{title} since this morning",
                            user_name="Bo", user_email="bo@example.com", priority="low",
                            created_at=CREATED_AT)
    return new_event(EventType.TICKET_CREATED, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=1, correlation_id=f"req-{tenant}-{ticket_id}")


def state(engine):
    with engine.connect() as conn:
        cats = conn.execute(sa.text(
            "SELECT tenant_id, ticket_id, department, requested_priority, source_event_id"
            " FROM categorizations ORDER BY tenant_id, ticket_id")).all()
        texts = conn.execute(sa.text(
            "SELECT tenant_id, ticket_id, title FROM ticket_texts ORDER BY 1, 2")).all()
        outbox = conn.execute(sa.text("SELECT payload, headers FROM outbox ORDER BY id")).all()
        claims = conn.scalar(sa.text("SELECT count(*) FROM inbox"))
    return cats, texts, outbox, claims


@pytest.mark.parametrize("one_by_one", [False, True], ids=["batch", "one-by-one"])
def test_a_batch_with_duplicates_has_single_delivery_effects(engine, make_uow, one_by_one):
    categorizer = ByFirstWord()
    earlier = created(1, "desk broken")
    handle_tickets_created([earlier], uow=make_uow(), categorizer=categorizer)
    first, again = created(2, "wifi down"), created(2, "wifi down again")   # same ticket
    batch = [first, decode(first.to_json()), again, created(1, "desk broken"), earlier,
             created(3, "payslip question"), created(3, "payslip question", tenant="other")]

    for part in ([[event] for event in batch] if one_by_one else [batch]):
        handle_tickets_created(part, uow=make_uow(), categorizer=categorizer)

    cats, texts, outbox, claims = state(engine)
    assert [(c.tenant_id, c.ticket_id, c.department) for c in cats] == [
        ("acme", 1, "Facilities"), ("acme", 2, "IT Support"), ("acme", 3, "HR"),
        ("other", 3, "HR")]
    assert next(c for c in cats if c.ticket_id == 2).source_event_id == first.event_id
    assert all(c.requested_priority == "low" for c in cats)
    assert [(t.tenant_id, t.ticket_id) for t in texts] == [("acme", 1), ("acme", 2),
                                                         ("acme", 3), ("other", 3)]
    events = [decode(orjson.dumps(p.payload)) for p in outbox]
    assert [(e.tenant_id, e.ticket_id) for e in events] == [("acme", 1), ("acme", 2),
                                                           ("acme", 3), ("other", 3)]
    assert events[1].causation_id == str(first.event_id)
    assert events[1].payload().department == "IT Support"
    assert outbox[1].headers == {"x-tenant-id": "acme", "x-request-id": "req-acme-2"}
    assert claims == 6          # earlier + 5 distinct new events (the copy claims nothing)
    assert categorizer.calls == ["desk broken", "wifi down", "payslip question",
                                 "payslip question"]   # each ticket decided once

    handle_tickets_created(batch, uow=make_uow(), categorizer=categorizer)   # redelivered
    assert state(engine) == (cats, texts, outbox, claims)


def test_a_bad_event_fails_the_whole_batch_and_leaves_nothing(engine, make_uow):
    bad = created(5, "wifi down").model_copy(update={"data": {"title": ""}})
    with pytest.raises(InvalidEventError):
        handle_tickets_created([created(4, "desk broken"), bad], uow=make_uow(),
                               categorizer=ByFirstWord())
    assert state(engine) == ([], [], [], 0)
