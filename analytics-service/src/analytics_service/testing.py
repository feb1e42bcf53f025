"""Hand-written fakes of the analytics repositories and unit of work (no I/O)."""
from __future__ import annotations

from typing import Any, Sequence

from .projection import EventLog, FactsRepository, Key, TicketFacts
from support_shared.events import Envelope
from support_shared.testing.fakes import FakeUnitOfWork


class FakeFacts(FactsRepository):
    """Facts per ticket; like the table, ``lock_many`` gives a blank row for a new ticket."""

    def __init__(self) -> None:
        self.rows: dict[Key, TicketFacts] = {}
        self.locked: list[list[Key]] = []      # the keys of each lock_many, in the order asked

    def lock_many(self, keys: Sequence[Key]) -> dict[Key, TicketFacts]:
        self.locked.append(list(keys))
        return {key: self.rows.get(key) or TicketFacts(*key) for key in keys}

    def save_many(self, facts: Sequence[TicketFacts]) -> None:
        self.rows.update({(f.tenant_id, f.ticket_id): f for f in facts})


class FakeEventLog(EventLog):
    def __init__(self) -> None:
        self.events: list[Envelope] = []

    def add_many(self, envelopes: Sequence[Envelope]) -> None:
        self.events.extend(envelopes)


class FakeProjectionUnitOfWork(FakeUnitOfWork):
    """Inbox, event log and facts that change only on ``commit()``, like the transaction."""

    def __init__(self) -> None:
        self.facts = FakeFacts()
        self.events = FakeEventLog()
        super().__init__()

    def get(self, ticket_id: int = 1, tenant: str = "acme") -> TicketFacts:
        return self.facts.rows[(tenant, ticket_id)]

    def _snapshot(self) -> Any:
        return dict(self.facts.rows), list(self.events.events)

    def _restore(self, state: Any) -> None:
        rows, events = state
        self.facts.rows = rows
        self.events.events[:] = events
