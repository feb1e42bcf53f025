"""Tables and repository of service levels: each tenant's targets and calendar, each ticket's
timers; the timers are written in the transaction of the ticket change that moves them."""
from __future__ import annotations

import abc
from dataclasses import dataclass, fields
from datetime import date, datetime, timezone
from typing import Any, Collection, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection
from support_shared.bulk import bulk_upsert

from ..db import TS, metadata
from .calendar import Calendar
from .domain import DEFAULT_TARGETS, Target, Timer

sla_policies = sa.Table(
    "sla_policies", metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("priority", sa.Text, primary_key=True),
    sa.Column("first_response_minutes", sa.Float, nullable=False),
    sa.Column("resolution_minutes", sa.Float, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

sla_calendars = sa.Table(
    "sla_calendars", metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("time_zone", sa.Text, nullable=False),
    sa.Column("hours", pg.JSONB, nullable=False),      # [[[start, end], ...] x 7], minutes
    sa.Column("holidays", pg.ARRAY(sa.Date), nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

sla_timers = sa.Table(
    "sla_timers", metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("ticket_id", sa.BigInteger, sa.ForeignKey("tickets.id"), primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("target_minutes", sa.Float, nullable=False),
    sa.Column("consumed_s", sa.Float, nullable=False),
    sa.Column("running_since", TS),
    sa.Column("stopped_at", TS),
    sa.Column("due_at", TS),
    sa.Column("warning_at", TS),
    sa.Column("warned", sa.Boolean, nullable=False),
    sa.Column("breached", sa.Boolean, nullable=False),
    sa.Column("next_fire_at", TS),   # indexed (partial): what the clock process polls
)

# The columns of ..tickets.persistence.tickets_table these queries read (that module builds the
# unit of work holding this repository, so it cannot be imported here).
tickets_table = sa.table(
    "tickets", sa.column("tenant_id", sa.Text), sa.column("id", sa.BigInteger),
    sa.column("department", sa.Text), sa.column("priority", sa.Text),
    sa.column("deleted_at", TS), sa.column("created_at", TS),
    sa.column("first_response_due_at", TS), sa.column("resolution_due_at", TS))

_TIMER_FIELDS = tuple(f.name for f in fields(Timer))
_TIMES = ("running_since", "stopped_at", "due_at", "warning_at")


@dataclass(frozen=True)
class TicketFacts:
    """What an SLA event says about its ticket besides the timer."""

    department: str | None
    priority: str
    deleted: bool


@dataclass(frozen=True)
class Stored:
    """A tenant's stored setting and when it was last written (None: the default)."""

    value: Any
    updated_at: datetime | None


class AbstractSlaRepository(abc.ABC):
    @abc.abstractmethod
    def policy(self, tenant_id: str) -> Stored:
        """``{priority: Target}`` for every priority (defaults where none was set)."""

    @abc.abstractmethod
    def save_policy(self, tenant_id: str, targets: Mapping[str, Target], now: datetime) -> None:
        ...

    @abc.abstractmethod
    def calendar(self, tenant_id: str) -> Stored:
        """The tenant's ``Calendar`` (always open, UTC, when it set none)."""

    @abc.abstractmethod
    def save_calendar(self, tenant_id: str, calendar: Calendar, now: datetime) -> None:
        ...

    @abc.abstractmethod
    def timers(self, tenant_id: str, ticket_id: int) -> dict[str, Timer]:
        """The ticket's timers by kind, locked until commit."""

    @abc.abstractmethod
    def unstopped(self, tenant_id: str) -> list[Timer]:
        # Tickets first, in id order, as every ticket change locks them: no deadlock with one.
        t = tickets_table
        open_ids = (sa.select(_t.c.ticket_id)
                    .where(_t.c.tenant_id == tenant_id, _t.c.stopped_at.is_(None)))
        ids = self.conn.execute(
            sa.select(t.c.id).where(t.c.tenant_id == tenant_id, t.c.deleted_at.is_(None),
                                    t.c.id.in_(open_ids))
            .order_by(t.c.id).with_for_update()).scalars().all()
        if not ids:
            return []
        rows = self.conn.execute(
            sa.select(_t).where(_t.c.tenant_id == tenant_id, _t.c.stopped_at.is_(None),
                                _t.c.ticket_id.in_(ids))
            .order_by(_t.c.ticket_id, _t.c.kind).with_for_update())
        return [_timer(row) for row in rows]

    def save_timers(self, timers: Sequence[Timer]) -> None:
        """Insert or update ``timers``."""

    @abc.abstractmethod
    def claim_due(self, now: datetime, limit: int) -> list[Timer]:
        """Up to ``limit`` timers due to fire by ``now`` that no other transaction holds,
        locked until commit (``FOR UPDATE SKIP LOCKED``)."""

    @abc.abstractmethod
    def ticket_facts(self, keys: Collection[tuple[str, int]]) -> dict[tuple[str, int], TicketFacts]:
        ...

    @abc.abstractmethod
    def show_due(self, timers: Sequence[Timer]) -> None:
        """Copy the timers' due moments onto their tickets (a setting changed; no new version)."""

    @abc.abstractmethod
    def next_fire_at(self) -> datetime | None:
        """The earliest moment any timer is due to fire."""

    @abc.abstractmethod
    def stopped_since(self, tenant_id: str, since: datetime | None) -> list[tuple[Timer, TicketFacts]]:
        """Timers of the tenant stopped since ``since`` (all when None) or breached, with facts."""


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(timezone.utc) if value is not None else None


def _timer(row: sa.Row) -> Timer:
    values = {name: row._mapping[name] for name in _TIMER_FIELDS}
    for name in _TIMES:
        values[name] = _utc(values[name])
    return Timer(**values)


def _timer_values(timer: Timer) -> dict[str, Any]:
    values = {name: getattr(timer, name) for name in _TIMER_FIELDS}
    values["next_fire_at"] = timer.next_fire_at
    return values


def calendar_from_json(time_zone: str, hours: Sequence[Sequence[Sequence[int]]],
                       holidays: Collection[date]) -> Calendar:
    return Calendar(time_zone, tuple(tuple((int(a), int(b)) for a, b in day) for day in hours),
                    frozenset(holidays))


_t = sla_timers
# A batch's timers in one statement (``support_shared.bulk``).
_SAVE_TIMERS = bulk_upsert(_t, key=("tenant_id", "ticket_id", "kind"),
                           columns=(*_TIMER_FIELDS, "next_fire_at"))
_CLAIM = (sa.select(_t).where(_t.c.next_fire_at <= sa.bindparam("now"))
          .order_by(_t.c.next_fire_at).limit(sa.bindparam("limit"))
          .with_for_update(skip_locked=True))
_SHOW_DUE = (tickets_table.update()
             .where(tickets_table.c.tenant_id == sa.bindparam("k_tenant_id"),
                    tickets_table.c.id == sa.bindparam("k_id")))


class SqlSlaRepository(AbstractSlaRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def policy(self, tenant_id: str) -> Stored:
        rows = self.conn.execute(sa.select(sla_policies)
                                 .where(sla_policies.c.tenant_id == tenant_id)).all()
        targets = dict(DEFAULT_TARGETS)
        targets.update({r.priority: Target(r.first_response_minutes, r.resolution_minutes)
                        for r in rows})
        return Stored(targets, _utc(max((r.updated_at for r in rows), default=None)))

    def save_policy(self, tenant_id: str, targets: Mapping[str, Target], now: datetime) -> None:
        stmt = pg.insert(sla_policies)
        stmt = stmt.on_conflict_do_update(
            index_elements=[sla_policies.c.tenant_id, sla_policies.c.priority],
            set_={c: stmt.excluded[c] for c in
                  ("first_response_minutes", "resolution_minutes", "updated_at")})
        self.conn.execute(stmt, [
            {"tenant_id": tenant_id, "priority": p, "updated_at": now,
             "first_response_minutes": t.first_response_minutes,
             "resolution_minutes": t.resolution_minutes} for p, t in targets.items()])

    def calendar(self, tenant_id: str) -> Stored:
        row = self.conn.execute(sa.select(sla_calendars)
                                .where(sla_calendars.c.tenant_id == tenant_id)).first()
        if row is None:
            return Stored(Calendar(), None)
        return Stored(calendar_from_json(row.time_zone, row.hours, row.holidays),
                      _utc(row.updated_at))

    def save_calendar(self, tenant_id: str, calendar: Calendar, now: datetime) -> None:
        values = {"time_zone": calendar.time_zone, "updated_at": now,
                  "hours": [[list(span) for span in day] for day in calendar.hours],
                  "holidays": sorted(calendar.holidays)}
        stmt = pg.insert(sla_calendars).values(tenant_id=tenant_id, **values)
        self.conn.execute(stmt.on_conflict_do_update(
            index_elements=[sla_calendars.c.tenant_id], set_=values))

    def timers(self, tenant_id: str, ticket_id: int) -> dict[str, Timer]:
        rows = self.conn.execute(sa.select(_t).where(_t.c.tenant_id == tenant_id,
                                                     _t.c.ticket_id == ticket_id)
                                 .order_by(_t.c.kind).with_for_update())
        return {row.kind: _timer(row) for row in rows}

    def unstopped(self, tenant_id: str) -> list[Timer]:
        live = sa.select(tickets_table.c.id).where(tickets_table.c.tenant_id == tenant_id,
                                                   tickets_table.c.deleted_at.is_(None))
        rows = self.conn.execute(
            sa.select(_t).where(_t.c.tenant_id == tenant_id, _t.c.stopped_at.is_(None),
                                _t.c.ticket_id.in_(live))
            .order_by(_t.c.ticket_id, _t.c.kind).with_for_update())
        return [_timer(row) for row in rows]

    def save_timers(self, timers: Sequence[Timer]) -> None:
        _SAVE_TIMERS.execute(self.conn, [_timer_values(t) for t in timers])

    def claim_due(self, now: datetime, limit: int) -> list[Timer]:
        return [_timer(row) for row in self.conn.execute(_CLAIM, {"now": now, "limit": limit})]

    def ticket_facts(self, keys: Collection[tuple[str, int]]) -> dict[tuple[str, int], TicketFacts]:
        if not keys:
            return {}
        t = tickets_table
        rows = self.conn.execute(sa.select(t.c.tenant_id, t.c.id, t.c.department, t.c.priority,
                                           t.c.deleted_at)
                                 .where(sa.tuple_(t.c.tenant_id, t.c.id).in_(sorted(keys))))
        return {(r.tenant_id, r.id): TicketFacts(r.department, r.priority,
                                                 r.deleted_at is not None) for r in rows}

    def show_due(self, timers: Sequence[Timer]) -> None:
        due: dict[tuple[str, int], dict[str, Any]] = {}
        for timer in timers:
            entry = due.setdefault((timer.tenant_id, timer.ticket_id), {})
            entry[f"{timer.kind}_due_at"] = timer.due_at
        for (tenant_id, ticket_id), values in due.items():
            self.conn.execute(_SHOW_DUE.values(**values),
                              {"k_tenant_id": tenant_id, "k_id": ticket_id})

    def next_fire_at(self) -> datetime | None:
        return _utc(self.conn.scalar(sa.select(sa.func.min(_t.c.next_fire_at))))

    def stopped_since(self, tenant_id: str, since: datetime | None
                      ) -> list[tuple[Timer, TicketFacts]]:
        t = tickets_table
        stmt = (sa.select(_t, t.c.department, t.c.priority)
                .join(t, sa.and_(t.c.tenant_id == _t.c.tenant_id, t.c.id == _t.c.ticket_id))
                .where(_t.c.tenant_id == tenant_id, t.c.deleted_at.is_(None),
                       sa.or_(_t.c.stopped_at.is_not(None), _t.c.breached)))
        if since is not None:
            stmt = stmt.where(sa.or_(_t.c.stopped_at >= since, t.c.created_at >= since))
        return [(_timer(r), TicketFacts(r.department, r.priority, False))
                for r in self.conn.execute(stmt)]
