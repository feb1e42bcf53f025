"""Each tenant's departments as routing-service last announced them (``department.changed``).

A row per (tenant, department) with the event's fields and the department's ``version``: an
event older than the stored version changes nothing, so arrival order does not matter. A
tenant gets the shipped departments (version 0) before its first change is applied, because
routing-service seeds the same set before any change.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection

from support_shared.events import DepartmentChanged

from .departments import DEFAULT_DEPARTMENTS, Department

metadata = sa.MetaData()

tenant_departments = sa.Table(
    "tenant_departments",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("keywords", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("min_confidence", sa.Float, nullable=False, server_default="0.5"),
    sa.Column("is_triage", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("position", sa.BigInteger, sa.Identity(), nullable=False),
)


@dataclass(frozen=True)
class DepartmentState:
    """One tenant's department as a ``department.changed`` event left it."""

    tenant_id: str
    name: str
    description: str
    keywords: tuple[str, ...]
    min_confidence: float
    is_triage: bool
    active: bool
    version: int

    @classmethod
    def from_event(cls, tenant_id: str, event: DepartmentChanged) -> DepartmentState:
        return cls(tenant_id, event.name, event.description, tuple(event.keywords),
                   event.min_confidence, event.is_triage, event.active, event.version)

    def department(self) -> Department:
        return Department(self.name, self.description, self.keywords, self.is_triage)


def default_states(tenant_id: str) -> list[DepartmentState]:
    """The shipped departments as a tenant has them before any change (version 0)."""
    return [DepartmentState(tenant_id, d.name, d.description, d.keywords, 0.0 if d.is_triage
                            else 0.5, d.is_triage, True, 0) for d in DEFAULT_DEPARTMENTS]


def newest(states: Iterable[DepartmentState]) -> list[DepartmentState]:
    """One state per (tenant, name), the highest version, in first-seen order."""
    kept: dict[tuple[str, str], DepartmentState] = {}
    for state in states:
        key = (state.tenant_id, state.name)
        if key not in kept or state.version > kept[key].version:
            kept[key] = state
    return list(kept.values())


class TenantDepartmentRepository(ABC):
    @abstractmethod
    def active(self, tenant_ids: Iterable[str]) -> dict[str, list[Department]]:
        """Each tenant's active departments in creation order (the shipped set for a tenant
        without changes)."""

    @abstractmethod
    def apply_many(self, states: Sequence[DepartmentState]) -> None:
        """Store each state unless a newer version of that department is stored; a tenant
        without rows is first given the shipped departments."""


def _row(state: DepartmentState) -> dict[str, Any]:
    return {"tenant_id": state.tenant_id, "name": state.name, "description": state.description,
            "keywords": list(state.keywords), "min_confidence": state.min_confidence,
            "is_triage": state.is_triage, "active": state.active, "version": state.version}


_t = tenant_departments
_UPSERT = pg.insert(_t)
_UPSERT = _UPSERT.on_conflict_do_update(
    index_elements=[_t.c.tenant_id, _t.c.name],
    set_={c: _UPSERT.excluded[c] for c in ("description", "keywords", "min_confidence",
                                           "is_triage", "active", "version")},
    where=_t.c.version < _UPSERT.excluded.version)


class SqlTenantDepartmentRepository(TenantDepartmentRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def active(self, tenant_ids: Iterable[str]) -> dict[str, list[Department]]:
        wanted = sorted(set(tenant_ids))
        found: dict[str, list[Department]] = {tenant: [] for tenant in wanted}
        known: set[str] = set()
        if wanted:
            rows = self.conn.execute(sa.select(_t).where(_t.c.tenant_id.in_(wanted))
                                     .order_by(_t.c.position))
            for row in rows:
                known.add(row.tenant_id)
                if row.active:
                    found[row.tenant_id].append(
                        Department(row.name, row.description, tuple(row.keywords),
                                   row.is_triage))
        for tenant in set(wanted) - known:
            found[tenant] = list(DEFAULT_DEPARTMENTS)
        return found

    def apply_many(self, states: Sequence[DepartmentState]) -> None:
        states = newest(states)
        if not states:
            return
        tenants = sorted({s.tenant_id for s in states})
        known = set(self.conn.scalars(sa.select(_t.c.tenant_id).distinct()
                                      .where(_t.c.tenant_id.in_(tenants))))
        seeds = [_row(s) for tenant in tenants if tenant not in known
                 for s in default_states(tenant)]
        if seeds:   # concurrent first changes of one tenant: the primary key settles it
            self.conn.execute(pg.insert(_t).on_conflict_do_nothing(), seeds)
        self.conn.execute(_UPSERT, [_row(s) for s in sorted(
            states, key=lambda s: (s.tenant_id, s.name))])
