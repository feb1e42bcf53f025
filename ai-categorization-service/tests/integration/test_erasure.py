"""requester.erased on the real database: stored ticket texts and training examples go."""
import uuid

import pytest
import sqlalchemy as sa

from ai_categorization_service.erasure import handle_requesters_erased
from support_shared.events import EventType, RequesterErased, new_event

pytestmark = pytest.mark.integration


def test_erased_tickets_lose_their_stored_texts_and_training_texts(engine, make_uow):
    with engine.begin() as conn:
        for ticket_id, title in ((1, "Ann Lee's VPN"), (2, "Printer")):
            conn.execute(sa.text(
                "INSERT INTO ticket_texts (tenant_id, ticket_id, title, description) "
                "VALUES ('acme', :t, :title, 'ann.lee@example.com cannot connect')"),
                {"t": ticket_id, "title": title})
            conn.execute(sa.text(
                "INSERT INTO training_examples (tenant_id, ticket_id, text, department, source, "
                "event_id) VALUES ('acme', :t, :text, 'IT Support', 'manual', :e)"),
                {"t": ticket_id, "text": f"{title} text", "e": uuid.uuid4()})
    erased = new_event(EventType.REQUESTER_ERASED, RequesterErased(requester_id=5, ticket_ids=[1]),
                       tenant_id="acme", ticket_id=None, ticket_version=None)

    handle_requesters_erased([erased], uow=make_uow())

    with engine.connect() as conn:
        texts = conn.execute(sa.text("SELECT ticket_id, title, description FROM ticket_texts "
                                     "ORDER BY ticket_id")).all()
        examples = conn.execute(sa.text("SELECT ticket_id, text, department "
                                        "FROM training_examples ORDER BY ticket_id")).all()
    assert texts[0] == (1, "[erased]", "[erased]") and texts[1][1] == "Printer"
    assert examples == [(1, "[erased]", "IT Support"), (2, "Printer text", "IT Support")]
