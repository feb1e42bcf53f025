"""Reading the suite back through the gateway: ticket pages, the routing and analytics counters,
and waiting until a set of created tickets is routed (nothing lost) within a deadline."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)

PAGE = 200


class Gateway:
    """Synchronous calls through the gateway with the bench's API key."""

    def __init__(self, base_url: str, key: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        # A keep-alive connection idle through a load phase may be closed by the gateway just
        # as it is reused (connection reset): these calls are reads, so retrying is safe.
        retry = Retry(total=3, connect=3, read=3, status=0, backoff_factor=0.2,
                      allowed_methods=frozenset({"GET"}))
        self.http.mount("http://", HTTPAdapter(max_retries=retry))
        if key:
            self.http.headers["Authorization"] = f"Bearer {key}"

    def get(self, path: str, **params: Any) -> Any:
        resp = self.http.get(self.base_url + path, params=params or None, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def tickets_since(self, min_id: int) -> dict[int, dict[str, Any]]:
        """Every ticket with ``id >= min_id`` (newest first, keyset pages of 200)."""
        found: dict[int, dict[str, Any]] = {}
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": PAGE}
            if cursor:
                params["cursor"] = cursor
            page = self.get("/api/tickets", **params)
            for ticket in page["tickets"]:
                if ticket["id"] < min_id:
                    return found
                found[ticket["id"]] = ticket
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    def counters(self) -> "Counters":
        """Routed tickets as routing-service and analytics count them, and analytics' total."""
        routing = self.get("/api/routing/statistics")
        analytics = self.get("/api/dashboard/routing")
        summary = self.get("/api/dashboard/summary")
        return Counters(routing["total_routed"], analytics["total_routed"],
                        summary["total_tickets"])


@dataclass(frozen=True)
class Counters:
    routing_routed: int
    analytics_routed: int
    analytics_total: int

    def minus(self, base: "Counters") -> "Counters":
        return Counters(self.routing_routed - base.routing_routed,
                        self.analytics_routed - base.analytics_routed,
                        self.analytics_total - base.analytics_total)

    def plus(self, n: int) -> "Counters":
        return Counters(self.routing_routed + n, self.analytics_routed + n,
                        self.analytics_total + n)

    def covers(self, other: "Counters") -> bool:
        return (self.routing_routed >= other.routing_routed
                and self.analytics_routed >= other.analytics_routed
                and self.analytics_total >= other.analytics_total)


def wait_counted(gw: Gateway, base: Counters, expected: int, deadline_s: float,
                 interval_s: float = 0.5, owed: Counters = Counters(0, 0, 0),
                 ) -> tuple[float | None, Counters]:
    """Seconds until routing-service and analytics both count ``expected`` more routed tickets
    (and analytics that many more tickets) than ``base``, plus what each still ``owed`` for
    earlier tickets; None if the deadline passed first. Returns the counts since ``base``."""
    started = time.monotonic()
    target = owed.plus(expected)
    delta = Counters(0, 0, 0)
    while time.monotonic() - started < deadline_s:
        delta = gw.counters().minus(base)
        if delta.covers(target):
            return time.monotonic() - started, delta
        time.sleep(interval_s)
    return None, delta


def owed(start: Counters, now: Counters, accepted: int) -> Counters:
    """How many of the ``accepted`` tickets created since ``start`` each counter still lacks."""
    done = now.minus(start)
    return Counters(max(0, accepted - done.routing_routed),
                    max(0, accepted - done.analytics_routed),
                    max(0, accepted - done.analytics_total))


def unrouted(gw: Gateway, ids: list[int], deadline_s: float) -> tuple[list[int], dict[int, dict]]:
    """Ids among ``ids`` whose ticket has no department yet after ``deadline_s`` seconds of
    re-reading, and the tickets as last read."""
    if not ids:
        return [], {}
    started = time.monotonic()
    while True:
        tickets = gw.tickets_since(min(ids))
        missing = [i for i in ids if not (tickets.get(i) or {}).get("department")]
        if not missing or time.monotonic() - started >= deadline_s:
            return missing, tickets
        time.sleep(1.0)


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def routed_at(tickets: dict[int, dict], ids: list[int]) -> dict[int, tuple[float, float | None]]:
    """Server-side (created_at, routed_at) of each of ``ids`` that was read back: a ticket routed
    once and untouched since is at version 2, and its ``updated_at`` is when ticket-service
    applied ``ticket.routed``; routed_at is None for a ticket not (or not measurably) routed."""
    out: dict[int, tuple[float, float | None]] = {}
    for i in ids:
        t = tickets.get(i)
        if not t:
            continue
        routed = t.get("department") and t.get("version") == 2
        out[i] = (_ts(t["created_at"]), _ts(t["updated_at"]) if routed else None)
    return out


def created_to_routed_s(tickets: dict[int, dict], ids: list[int]) -> tuple[list[float], int]:
    """Server-side create->routed seconds of ``ids`` (see ``routed_at``). Returns the durations
    and how many tickets could not be measured that way."""
    times = routed_at(tickets, ids)
    out = [routed - created for created, routed in times.values() if routed is not None]
    return out, len(ids) - len(out)
