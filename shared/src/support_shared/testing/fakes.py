"""In-memory stand-ins for the outbox and inbox, for unit tests of handlers (no I/O)."""
from __future__ import annotations

import uuid

from ..events import Envelope


class FakeOutbox:
    def __init__(self) -> None:
        self.events: list[Envelope] = []

    def add(self, envelope: Envelope, headers: dict[str, str] | None = None) -> None:
        self.events.append(envelope)

    def add_many(self, envelopes: list[Envelope], headers: dict[str, str] | None = None) -> None:
        self.events.extend(envelopes)


class FakeInbox:
    def __init__(self) -> None:
        self.seen: set[uuid.UUID] = set()

    def claim(self, event_id: uuid.UUID) -> bool:
        if event_id in self.seen:
            return False
        self.seen.add(event_id)
        return True
