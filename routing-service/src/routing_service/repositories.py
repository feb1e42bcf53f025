"""Abstract repositories of routing-service; the SQL ones and the test fakes subclass them."""
from __future__ import annotations

import abc
from datetime import datetime
from typing import Any, NamedTuple, Sequence

from .domain import Department, RoutedTicket, RoutingRecord

TicketKey = tuple[str, int]   # (tenant_id, ticket_id)


class CreatedTicket(NamedTuple):
    """What a ``ticket.created`` event tells routing about its ticket."""

    tenant_id: str
    ticket_id: int
    title: str
    created_at: datetime | None
    ticket_version: int
    tags: tuple[str, ...] = ()


class SeenTicket(NamedTuple):
    """A ticket an event mentions, at the version the event carries."""

    tenant_id: str
    ticket_id: int
    ticket_version: int
    created_at: datetime | None


class StatusSeen(NamedTuple):
    """A ``ticket.status.updated`` event: is the ticket closed as of ``ticket_version``."""

    tenant_id: str
    ticket_id: int
    ticket_version: int
    closed: bool


class TagsSeen(NamedTuple):
    """A ``ticket.updated`` that changed the tags: the ticket's tags as of ``ticket_version``."""

    tenant_id: str
    ticket_id: int
    ticket_version: int
    tags: tuple[str, ...]


class RememberedRequest(NamedTuple):
    """The first request made with an Idempotency-Key and what it was answered (as JSON)."""

    fingerprint: str
    answer: dict[str, Any] | None


class DepartmentRepository(abc.ABC):
    @abc.abstractmethod
    def ensure_defaults(self, tenant_id: str) -> int:
        """Give a tenant without departments the default set; return how many were added."""

    @abc.abstractmethod
    def list(self, tenant_id: str) -> list[Department]:
        """All departments of the tenant, active or not, in creation order."""

    @abc.abstractmethod
    def get(self, tenant_id: str, name: str, *, lock: bool = False) -> Department | None:
        """The department called ``name`` (case-insensitive), locked for update when ``lock``."""

    @abc.abstractmethod
    def page(self, tenant_id: str, *, after: int | None, limit: int) -> list[tuple[int, Department]]:
        """Up to ``limit`` departments with their ids, in creation order, after id ``after``."""

    @abc.abstractmethod
    def add(self, tenant_id: str, department: Department) -> bool:
        """Add a department; False (nothing added) when the tenant has one of that name."""

    @abc.abstractmethod
    def update(self, tenant_id: str, department: Department) -> None:
        """Write the editable fields and version of the existing department of that name."""


class TicketRepository(abc.ABC):
    @abc.abstractmethod
    def record_created_many(self, rows: Sequence[CreatedTicket]) -> None:
        """Store title and creation time of distinct tickets, inserting the missing ones and
        keeping the highest ``ticket_version``; never touches the routing fields."""

    @abc.abstractmethod
    def touch_many(self, rows: Sequence[SeenTicket]) -> dict[TicketKey, RoutedTicket]:
        """Insert the distinct tickets that are missing, keep the highest ``ticket_version``
        and the first creation time known; return them all, locked, by key."""

    @abc.abstractmethod
    def record_status_many(self, rows: Sequence[StatusSeen]) -> None:
        """Insert the distinct tickets that are missing; take each row's ``closed`` unless a
        newer status (higher ``ticket_version``) was recorded; keep the highest version."""

    @abc.abstractmethod
    def record_tags_many(self, rows: Sequence[TagsSeen]) -> None:
        """Insert the distinct tickets that are missing; take each row's tags unless a newer
        edit of them (higher ``ticket_version``) was recorded; keep the highest version."""

    @abc.abstractmethod
    def record_deleted_many(self, rows: Sequence[SeenTicket]) -> None:
        """Mark these distinct tickets deleted, inserting the missing ones (so a late event
        finds them deleted); keep the highest ``ticket_version``."""

    @abc.abstractmethod
    def get(self, tenant_id: str, ticket_id: int, *, lock: bool = False) -> RoutedTicket | None:
        """The ticket, locked for update when ``lock``."""

    @abc.abstractmethod
    def save_many(self, tickets: Sequence[RoutedTicket]) -> None:
        """Write the routing fields of these distinct, existing tickets."""


class HistoryRepository(abc.ABC):
    @abc.abstractmethod
    def add_many(self, records: Sequence[RoutingRecord]) -> None:
        """Append routing decisions, in order."""

    @abc.abstractmethod
    def for_ticket(self, tenant_id: str, ticket_id: int) -> list[RoutingRecord]:
        """The ticket's routing decisions, oldest first."""

    @abc.abstractmethod
    def latest(self, tenant_id: str, ticket_id: int) -> RoutingRecord | None:
        """The ticket's most recent routing decision."""


class IdempotencyRepository(abc.ABC):
    """The Idempotency-Keys a tenant used for manual routing, each with its first request."""

    @abc.abstractmethod
    def claim(self, tenant_id: str, key: str, fingerprint: str) -> bool:
        """Take ``key`` for a request until the transaction ends; False if it was used before.

        While another open transaction holds the key this waits for it to end, so a retry
        racing its original sees the original's outcome."""

    @abc.abstractmethod
    def get(self, tenant_id: str, key: str) -> RememberedRequest | None:
        """The first request made with ``key``."""

    @abc.abstractmethod
    def answer(self, tenant_id: str, key: str, answer: dict[str, Any]) -> None:
        """Remember ``answer`` (JSON) as the answer to the request that claimed ``key``."""
