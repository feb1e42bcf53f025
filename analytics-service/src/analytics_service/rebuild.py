"""Rebuild the ticket_facts projection from the event_log and prove the dashboard counts agree.

How the live consumer is kept out: one transaction takes ``LOCK TABLE event_log, ticket_facts
IN EXCLUSIVE MODE`` (the order the consumer writes them, so the two cannot deadlock). EXCLUSIVE
conflicts with the ROW EXCLUSIVE lock every INSERT/UPDATE takes, so a consumer transaction
waits at its event_log insert (it retries in place on its statement timeout, then requeues;
RabbitMQ keeps the messages), while plain SELECTs (ACCESS SHARE) go on: the dashboard keeps
answering from the old rows until the commit switches every reader to the new ones at once.
A table lock needs nothing from the consumer's code, unlike an advisory lock, and it also
covers batch transactions. Shadow tables swapped in later would need that same lock for the
swap plus a catch-up of events applied meanwhile; for the event log of this suite the simple
lock is the better trade.

In the transaction: lock, read the dashboard counts per tenant ("before"), delete every
ticket_facts row, replay the event_log per ticket in the order it was applied (received_at,
then occurred_at, then event_id) in batches through the consumer's own ``handle_events``, read
the counts again ("after"). Then commit, or roll back: on ``dry_run``, and when the counts differ
unless ``force`` (a rebuild that would change the dashboard is shown, not applied).
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from support_shared.commands import CommandError
from support_shared.events import Envelope, InvalidEventError
from support_shared.inbox import AbstractInbox

from . import queries
from .persistence import SqlFactsRepository, event_log, ticket_facts
from .projection import EventLog, handle_events

logger = logging.getLogger(__name__)

REPLAY_BATCH = 1000
LOCK_NOT_AVAILABLE = "55P03"
UNDEFINED_TABLE = "42P01"
Counts = dict[str, dict[str, int]]          # tenant -> "status.pending" -> count


class RebuildError(CommandError):
    """The rebuild could not run (tables busy, not migrated, an event that no longer fits)."""


@dataclass
class RebuildReport:
    before: Counts
    after: Counts
    events: int
    tickets: int
    seconds: float
    committed: bool = False
    dry_run: bool = False
    differences: list[tuple[str, str, int, int]] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "matches": self.matches,
            "committed": self.committed,
            "dry_run": self.dry_run,
            "events_replayed": self.events,
            "tickets_rebuilt": self.tickets,
            "seconds": round(self.seconds, 3),
            "before": self.before,
            "after": self.after,
            "differences": [{"tenant": t, "count": k, "before": b, "after": a}
                            for t, k, b, a in self.differences],
        }


def tenant_counts(conn: Connection, tenant: str, now: datetime) -> dict[str, int]:
    """The dashboard's counts of one tenant (summary and routing views), flattened."""
    summary = queries.summary(conn, tenant, now)
    routing = queries.routing(conn, tenant)
    counts = {"total": summary["total_tickets"], "needs_review": summary["needs_review"],
              "routed": routing["total_routed"]}
    for prefix, breakdown in (("status", summary["by_status"]),
                              ("department", summary["by_department"]),
                              ("priority", summary["by_priority"]),
                              ("method", routing["by_categorization_method"])):
        counts.update({f"{prefix}.{key}": value for key, value in breakdown.items()})
    return counts


def tenants(conn: Connection) -> list[str]:
    """Every tenant with facts or logged events."""
    union = sa.union(sa.select(ticket_facts.c.tenant_id), sa.select(event_log.c.tenant_id))
    return sorted(conn.scalars(sa.select(union.subquery().c.tenant_id)))


def dashboard_counts(conn: Connection, tenant_ids: list[str] | None = None) -> Counts:
    now = datetime.now(timezone.utc)
    return {t: tenant_counts(conn, t, now) for t in (tenant_ids if tenant_ids is not None
                                                     else tenants(conn))}


def compare(before: Counts, after: Counts) -> list[tuple[str, str, int, int]]:
    """(tenant, count, before, after) for every count that differs (absent = 0)."""
    out = []
    for tenant in sorted(set(before) | set(after)):
        b, a = before.get(tenant, {}), after.get(tenant, {})
        for key in sorted(set(b) | set(a)):
            if b.get(key, 0) != a.get(key, 0):
                out.append((tenant, key, b.get(key, 0), a.get(key, 0)))
    return out


class _ReplayInbox(AbstractInbox):
    """Every logged event is applied again: the inbox guards against redelivery, not replay."""

    def claim_many(self, event_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        return set(event_ids)


class _LoggedAlready(EventLog):
    """The log being replayed holds these events already."""

    def add_many(self, envelopes: Sequence[Envelope]) -> None:
        pass


class ReplayUnitOfWork:
    """The projection's unit of work inside the rebuild's transaction, which alone commits."""

    def __init__(self, conn: Connection) -> None:
        self.inbox = _ReplayInbox()
        self.events = _LoggedAlready()
        self.facts = SqlFactsRepository(conn)

    def __enter__(self) -> ReplayUnitOfWork:
        return self

    def __exit__(self, *exc: object) -> None:
        """An error propagates and rolls back the rebuild's transaction as a whole."""

    def commit(self) -> None:
        """Nothing to do: ``rebuild`` commits or rolls back the whole replay."""


def _logged_batches(conn: Connection) -> Iterator[list[Envelope]]:
    """The event_log in the order it was applied, ``REPLAY_BATCH`` events at a time."""
    c = event_log.c
    stmt = (sa.select(c.event_id, c.event_type, c.tenant_id, c.ticket_id, c.ticket_version,
                      c.occurred_at, c.data)
            .order_by(c.tenant_id, c.ticket_id, c.received_at, c.occurred_at, c.event_id)
            .execution_options(yield_per=REPLAY_BATCH))      # a server-side cursor
    for rows in conn.execute(stmt).partitions():
        yield [Envelope(**row._asdict()) for row in rows]


def _readable(envelopes: Sequence[Envelope]) -> Sequence[Envelope]:
    """``envelopes``, or ``RebuildError`` naming the first whose data no longer fits its type."""
    for envelope in envelopes:
        try:
            envelope.payload()
        except InvalidEventError as exc:
            raise RebuildError(f"event {envelope.event_id} in the event_log no longer fits its "
                               f"type: {exc}") from exc
    return envelopes


def replay(conn: Connection) -> tuple[int, int]:
    """Replace every ticket_facts row by the replay of the event_log; (events, tickets).

    The events go through the consumer's own ``handle_events``, in batches.
    """
    conn.execute(sa.delete(ticket_facts))
    uow = ReplayUnitOfWork(conn)
    events = sum(handle_events(_readable(batch), uow=uow) for batch in _logged_batches(conn))
    tickets = conn.scalar(sa.select(sa.func.count()).select_from(ticket_facts))
    return events, tickets or 0


def lock_projection(conn: Connection, lock_timeout_s: float) -> None:
    """Keep the consumer's writes out until the end of this transaction (see the module doc)."""
    conn.execute(sa.text("SELECT set_config('lock_timeout', :ms, true)"),
                 {"ms": f"{max(1, int(lock_timeout_s * 1000))}ms"})
    conn.execute(sa.text("SELECT set_config('statement_timeout', '0', true)"))
    try:
        conn.execute(sa.text("LOCK TABLE event_log, ticket_facts IN EXCLUSIVE MODE"))
    except DBAPIError as exc:
        if getattr(exc.orig, "pgcode", None) == LOCK_NOT_AVAILABLE:
            raise RebuildError(f"event_log/ticket_facts stayed busy for {lock_timeout_s:g} s "
                               "(a consumer transaction); try again") from exc
        raise


def rebuild_in(conn: Connection, *, lock_timeout_s: float = 10.0) -> RebuildReport:
    """Lock, count, replay and count again inside the caller's open transaction (no commit)."""
    started = time.monotonic()
    lock_projection(conn, lock_timeout_s)
    tenant_ids = tenants(conn)
    before = dashboard_counts(conn, tenant_ids)
    events, tickets = replay(conn)
    after = dashboard_counts(conn, tenant_ids)
    report = RebuildReport(before, after, events, tickets, time.monotonic() - started,
                           differences=compare(before, after))
    logger.info("replayed %s events into %s tickets in %.2fs; counts %s", events, tickets,
                report.seconds, "match" if report.matches else "differ")
    return report


def rebuild(engine: Engine, *, dry_run: bool = False, force: bool = False,
            lock_timeout_s: float = 10.0) -> RebuildReport:
    """Rebuild in one transaction; commit unless ``dry_run``, or counts differ without ``force``."""
    try:
        with engine.connect() as conn:
            with conn.begin() as tx:
                report = rebuild_in(conn, lock_timeout_s=lock_timeout_s)
                report.dry_run = dry_run
                if dry_run or not (report.matches or force):
                    tx.rollback()
                else:
                    tx.commit()
                    report.committed = True
    except sa.exc.ProgrammingError as exc:
        if getattr(exc.orig, "pgcode", None) != UNDEFINED_TABLE:
            raise
        raise RebuildError(f"analytics tables missing (not migrated?): "
                           f"{str(exc.orig).strip().splitlines()[0]}") from exc
    return report


def format_report(report: RebuildReport) -> str:
    """Before and after side by side (counts that are 0 in both left out), then the verdict."""
    differing = {(t, k) for t, k, _, _ in report.differences}
    rows = [("TENANT", "COUNT", "BEFORE", "AFTER", "")]
    for tenant in sorted(set(report.before) | set(report.after)):
        b, a = report.before.get(tenant, {}), report.after.get(tenant, {})
        for key in sorted(set(b) | set(a)):
            if b.get(key, 0) or a.get(key, 0):
                rows.append((tenant, key, str(b.get(key, 0)), str(a.get(key, 0)),
                             "<- differs" if (tenant, key) in differing else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"replayed {report.events} event(s) into {report.tickets} ticket(s) "
             f"in {report.seconds:.2f} s", ""]
    lines += [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  "
              f"{r[3]:>{widths[3]}}  {r[4]}".rstrip() for r in rows]
    if len(rows) == 1:
        lines.append("(no tickets)")
    lines.append("")
    if report.matches:
        verdict = "counts match"
    else:
        verdict = f"counts DIFFER in {len(report.differences)} place(s)"
    if report.committed:
        outcome = "the rebuilt projection is live"
    elif report.dry_run:
        outcome = "dry run: nothing changed"
    else:
        outcome = "the projection was left unchanged (--force replaces it anyway)"
    lines.append(f"{verdict}; {outcome}")
    return "\n".join(lines)
