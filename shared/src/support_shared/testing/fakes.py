"""Complete in-memory stand-ins for the outbox, the inbox and a unit of work (no I/O).

They subclass the real adapters' abstract bases, so a handler unit-tested against them runs
the same calls it makes in production (cosmic ``tests/unit/test_handlers.py``).
"""
from __future__ import annotations

import uuid
from typing import Any, Iterable, Sequence

from ..erasure import AbstractErasure
from ..events import Envelope
from ..inbox import AbstractInbox
from ..outbox import AbstractOutbox


class FakeOutbox(AbstractOutbox):
    def __init__(self) -> None:
        self.events: list[Envelope] = []

    def add_each(self, envelopes: Iterable[Envelope]) -> None:
        self.events.extend(envelopes)


class FakeInbox(AbstractInbox):
    def __init__(self) -> None:
        self.seen: set[uuid.UUID] = set()

    def claim_many(self, event_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        new = {e for e in event_ids if e not in self.seen}
        self.seen.update(new)
        return new


class FakeUnitOfWork:
    """Outbox, inbox and erasure that take effect only on ``commit()``, like the transaction.

    A service's fake unit of work subclasses it and adds its fake repositories; those that
    keep state override ``_snapshot``/``_restore`` so a rollback undoes them too.
    """

    def __init__(self) -> None:
        self.outbox = FakeOutbox()
        self.inbox = FakeInbox()
        self.erasure = FakeErasure()
        self.commits = 0
        self._saved: Any = None

    def __enter__(self) -> Any:
        erased = getattr(self.erasure, "erased", {})   # a service may bring its own fake
        self._saved = (list(self.outbox.events), set(self.inbox.seen), self._snapshot(),
                       {t: set(ids) for t, ids in erased.items()})
        self._committed = False
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._committed:
            self.rollback()

    def commit(self) -> None:
        self.commits += 1
        self._committed = True

    def rollback(self) -> None:
        events, seen, state, erased = self._saved
        self.outbox.events[:] = events
        self.inbox.seen = seen
        if isinstance(self.erasure, FakeErasure):
            self.erasure.erased = erased
        self._restore(state)

    def _snapshot(self) -> Any:
        """The repositories' state at ``__enter__`` (override with state to roll back)."""
        return None

    def _restore(self, state: Any) -> None:
        """Put the repositories back to ``state``."""


class FakeErasure(AbstractErasure):
    """Records the tickets scrubbed (``erased``: tenant -> ticket ids) and ``calls`` in order."""

    def __init__(self) -> None:
        self.erased: dict[str, set[int]] = {}
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def erase_tickets(self, tenant_id: str, ticket_ids: Sequence[int]) -> dict[str, int]:
        self.calls.append((tenant_id, tuple(ticket_ids)))
        new = set(ticket_ids) - self.erased.get(tenant_id, set())
        self.erased.setdefault(tenant_id, set()).update(ticket_ids)
        return {"tickets": len(new)}
