"""Complete in-memory fakes of the AI service's repositories and unit of work (no I/O)."""
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from ai_categorization_service.departments import DEFAULT_DEPARTMENTS
from ai_categorization_service.persistence import CategorizationRepository, StoredCategorization
from ai_categorization_service.tenant_departments import (TenantDepartmentRepository,
                                                          default_states, newest)
from ai_categorization_service.training_data import TrainingDataRepository, ticket_text
from support_shared.testing.fakes import FakeUnitOfWork

STORED_AT = datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)


class FakeCategorizations(CategorizationRepository):
    def __init__(self):
        self.rows = {}   # (tenant, ticket) -> StoredCategorization

    def existing(self, keys):
        return {key for key in keys if key in self.rows}

    def add_many(self, categorizations):
        added = set()
        for c in categorizations:
            if c.key not in self.rows:
                self.rows[c.key] = StoredCategorization(c.ticket_id, c.source_event_id,
                                                        c.decision, c.requested_priority,
                                                        STORED_AT)
                added.add(c.key)
        return added

    def get(self, tenant_id, ticket_id):
        return self.rows.get((tenant_id, ticket_id))


class FakeTrainingData(TrainingDataRepository):
    def __init__(self):
        self.texts = {}       # (tenant, ticket) -> text
        self.examples = {}    # event id -> Correction, its text filled in once known

    def remember_texts(self, texts):
        for t in texts:
            self.texts.setdefault(t.key, ticket_text(t.title, t.description))
        for event_id, example in self.examples.items():
            if example.text is None and example.key in self.texts:
                self.examples[event_id] = replace(example, text=self.texts[example.key])

    def texts_of(self, keys):
        return {key: self.texts[key] for key in keys if key in self.texts}

    def add_corrections(self, corrections):
        for c in corrections:
            self.examples.setdefault(c.event_id, c)


class FakeTenantDepartments(TenantDepartmentRepository):
    def __init__(self):
        self.rows = {}   # tenant -> {name: DepartmentState}, in creation order

    def active(self, tenant_ids):
        return {tenant: ([s.department() for s in self.rows[tenant].values() if s.active]
                         if tenant in self.rows else list(DEFAULT_DEPARTMENTS))
                for tenant in set(tenant_ids)}

    def apply_many(self, states):
        for state in newest(states):
            rows = self.rows.setdefault(
                state.tenant_id, {s.name: s for s in default_states(state.tenant_id)})
            if state.name not in rows or rows[state.name].version < state.version:
                rows[state.name] = state


class FakeAiUnitOfWork(FakeUnitOfWork):
    """Repositories that roll back with the transaction; counts transactions opened."""

    def __init__(self):
        super().__init__()
        self.categorizations = FakeCategorizations()
        self.training = FakeTrainingData()
        self.departments = FakeTenantDepartments()
        self.in_transaction = False
        self.transactions = 0

    def __enter__(self):
        self.in_transaction = True
        self.transactions += 1
        return super().__enter__()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self.in_transaction = False

    def _snapshot(self):
        return (dict(self.categorizations.rows), dict(self.training.texts),
                dict(self.training.examples),
                {tenant: dict(rows) for tenant, rows in self.departments.rows.items()})

    def _restore(self, state):
        (self.categorizations.rows, self.training.texts, self.training.examples,
         self.departments.rows) = state


@pytest.fixture
def uow():
    return FakeAiUnitOfWork()
