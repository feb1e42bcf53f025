"""Migrations and the categorizations repository on the real PostgreSQL."""
import uuid

import pytest
import sqlalchemy as sa

from ai_categorization_service.categorizer import Decision
from ai_categorization_service.persistence import NewCategorization
from ai_categorization_service.training_data import Correction, TicketText
from support_shared.db import migrate

pytestmark = pytest.mark.integration

DECISION = Decision(department="HR", priority="low", confidence=0.64, method="local_model",
                    model_version="tfidf-1", urgency=0.15, latency_ms=3.2)


def test_migration_creates_tables_and_is_repeatable(engine, settings):
    migrate(engine, settings.db_schema, "ai_categorization_service")   # second run: no-op
    tables = set(sa.inspect(engine).get_table_names(schema=settings.db_schema))
    assert {"categorizations", "outbox", "inbox", "alembic_version"} <= tables
    columns = {c["name"] for c in sa.inspect(engine).get_columns(
        "categorizations", schema=settings.db_schema)}
    assert columns == {
        "id", "tenant_id", "ticket_id", "source_event_id", "department", "priority",
        "requested_priority", "confidence", "method", "model_version", "urgency",
        "input_tokens", "output_tokens", "latency_ms", "created_at"}


def new(tenant, ticket_id, requested_priority="medium", decision=DECISION):
    return NewCategorization(tenant, ticket_id, uuid.uuid4(), decision, requested_priority)


def test_add_get_and_one_row_per_ticket_and_tenant(make_uow):
    with make_uow() as uow:
        assert uow.categorizations.add_many([new("acme", 5), new("globex", 5, None)]) == {
            ("acme", 5), ("globex", 5)}
        assert uow.categorizations.add_many([new("acme", 5, "high"), new("acme", 6)]) == {
            ("acme", 6)}
        uow.commit()
    with make_uow() as uow:
        stored = uow.categorizations.get("acme", 5)
        assert stored.decision == DECISION
        assert stored.requested_priority == "medium"
        assert stored.created_at.tzinfo is not None
        assert uow.categorizations.existing([("globex", 5), ("initech", 5), ("acme", 6)]) == {
            ("globex", 5), ("acme", 6)}
        assert uow.categorizations.existing([]) == set()
        assert uow.categorizations.get("initech", 5) is None


def test_uncommitted_work_is_rolled_back(make_uow):
    with make_uow() as uow:
        uow.categorizations.add_many([new("acme", 9)])
        assert uow.inbox.claim(uuid.uuid4())
    with make_uow() as uow:
        assert not uow.categorizations.existing([("acme", 9)])
        assert uow.conn.execute(sa.text("SELECT count(*) FROM inbox")).scalar() == 0


def test_texts_and_corrections_in_either_order(make_uow):
    early = Correction("acme", 1, "HR", "manual", 2, uuid.uuid4())
    with make_uow() as uow:
        uow.training.add_corrections([early, early])
        uow.training.remember_texts([TicketText("acme", 1, "Payslip", "Wrong"),
                                     TicketText("acme", 2, "Desk", "Broken")])
        uow.training.remember_texts([TicketText("acme", 1, "Other", "Ignored")])  # first wins
        assert uow.training.texts_of([("acme", 1), ("acme", 2), ("acme", 3)]) == {
            ("acme", 1): "Payslip\n\nWrong", ("acme", 2): "Desk\n\nBroken"}
        later = Correction("acme", 2, "Facilities", "reroute", 3, uuid.uuid4(), "Desk\n\nBroken")
        uow.training.add_corrections([later])
        rows = uow.conn.execute(sa.text(
            "SELECT ticket_id, text FROM training_examples ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, "Payslip\n\nWrong"), (2, "Desk\n\nBroken")]


def test_database_rejects_labels_outside_the_contract(make_uow):
    bad = Decision(department="HR", priority="urgent", confidence=0.5, method="keywords")
    with make_uow() as uow, pytest.raises(sa.exc.IntegrityError):
        uow.categorizations.add_many([new("acme", 10, None, bad)])
