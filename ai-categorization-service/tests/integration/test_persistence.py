"""Migrations and the categorizations repository on the real PostgreSQL."""
import uuid

import pytest
import sqlalchemy as sa

from ai_categorization_service.categorizer import Decision
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


def test_add_get_and_one_row_per_ticket_and_tenant(make_uow):
    with make_uow() as uow:
        assert uow.categorizations.add("acme", 5, uuid.uuid4(), DECISION, "medium")
        assert not uow.categorizations.add("acme", 5, uuid.uuid4(), DECISION, "high")
        assert uow.categorizations.add("globex", 5, uuid.uuid4(), DECISION, None)
        uow.commit()
    with make_uow() as uow:
        stored = uow.categorizations.get("acme", 5)
        assert stored.decision == DECISION
        assert stored.requested_priority == "medium"
        assert stored.created_at.tzinfo is not None
        assert uow.categorizations.exists("globex", 5)
        assert uow.categorizations.get("initech", 5) is None


def test_uncommitted_work_is_rolled_back(make_uow):
    with make_uow() as uow:
        uow.categorizations.add("acme", 9, uuid.uuid4(), DECISION, "medium")
        assert uow.inbox.claim(uuid.uuid4())
    with make_uow() as uow:
        assert not uow.categorizations.exists("acme", 9)
        assert uow.conn.execute(sa.text("SELECT count(*) FROM inbox")).scalar() == 0


def test_database_rejects_labels_outside_the_contract(make_uow):
    bad = Decision(department="HR", priority="urgent", confidence=0.5, method="keywords")
    with make_uow() as uow, pytest.raises(sa.exc.IntegrityError):
        uow.categorizations.add("acme", 10, uuid.uuid4(), bad, None)
