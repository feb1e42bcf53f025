"""A model version activated while tickets flow through the real consumer: no restart, no loss."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from ai_categorization_service.bootstrap import build_categorizer
from ai_categorization_service.registry import ModelRegistry
from support_shared.events import EventType, TicketCreated, new_event
from support_shared.testing.helpers import wait_until

pytestmark = pytest.mark.integration

CREATED_AT = datetime(2025, 6, 3, 8, 0, tzinfo=timezone.utc)
PROBE = ("Router down", "the vpn and the wifi router fail again")
TEXTS = [("Refund missing", "invoice refund for the vendor payment"),
         ("Heating", "the heating and the lights are broken"),
         ("VPN", "vpn and dns latency again")]


def created(ticket_id):
    title, description = TEXTS[ticket_id % len(TEXTS)]
    payload = TicketCreated(title=title, description=description, user_name="Di",
                            user_email="di@example.com", priority="low", created_at=CREATED_AT)
    return new_event(EventType.TICKET_CREATED, payload, tenant_id="acme", ticket_id=ticket_id,
                     ticket_version=1)


def categorizations(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT c.ticket_id, c.method, c.model_version,"
            " o.payload -> 'data' ->> 'model_version' AS event_version"
            " FROM categorizations c"
            " JOIN outbox o ON o.payload ->> 'ticket_id' = c.ticket_id::text"
            " ORDER BY c.id")).all()


def test_activating_a_version_mid_flow_switches_the_running_consumer(
        settings, engine, run_consumer, tiny_models):
    registry = ModelRegistry(engine)
    first = registry.save(tiny_models[0], source="csv", training_rows=60, activate=True)
    fast = settings.model_copy(update={"model_refresh_s": 0.1})
    chain = build_categorizer(fast, engine=engine)   # what build_consumer builds by itself
    _, probe = run_consumer(fast, chain)

    early = range(1, 31)
    for ticket_id in early:
        probe.publish("ticket.created", created(ticket_id).to_json())
    wait_until(lambda: len(categorizations(engine)) >= 5, timeout=30,
               message="the first tickets categorized")
    second = registry.save(tiny_models[1], source="retrain", training_rows=60, activate=True)
    # The consumer's own categorizer object: once it answers with the new version, every
    # ticket published after this point must be categorized by it.
    wait_until(lambda: chain.categorize(*PROBE).model_version == second.version, timeout=15,
               message=f"the consumer's categorizer on {second.version}")
    late = range(31, 51)
    for ticket_id in late:
        probe.publish("ticket.created", created(ticket_id).to_json())

    wait_until(lambda: len(categorizations(engine)) == 50, timeout=60,
               message="all 50 tickets categorized")
    rows = categorizations(engine)
    assert sorted(r.ticket_id for r in rows) == list(range(1, 51))     # each once, none lost
    assert {r.method for r in rows} == {"local_model"}
    assert all(r.event_version == r.model_version for r in rows)      # the event says the same
    versions = [r.model_version for r in rows]                        # in the order handled
    assert set(versions) <= {first.version, second.version}
    switch = versions.index(second.version)
    assert versions[switch:] == [second.version] * (50 - switch)      # no way back after it
    assert {r.model_version for r in rows if r.ticket_id in late} == {second.version}
    assert versions[:5] == [first.version] * 5                        # before the activation
