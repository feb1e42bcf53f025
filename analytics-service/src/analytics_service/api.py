"""HTTP routes of the dashboards: validate the query, read one tenant's numbers, answer JSON."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.engine import Connection, Engine
from support_shared.schemas import TrendsQuery
from support_shared.web import parse_query, tenant_id

from . import queries

bp = Blueprint("analytics", __name__)

EXTENSION = "analytics_service"


@dataclass(frozen=True)
class Dependencies:
    engine: Engine
    clock: Callable[[], datetime]


def deps() -> Dependencies:
    return current_app.extensions[EXTENSION]


@contextmanager
def snapshot() -> Iterator[Connection]:
    """A read-only connection seeing one snapshot, so the numbers of a response agree."""
    with deps().engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn


def _read(query: Callable[..., dict[str, Any]], *args: Any) -> ResponseReturnValue:
    with snapshot() as conn:
        return jsonify(query(conn, tenant_id(), *args))


@bp.get("/api/dashboard/summary")
def dashboard_summary() -> ResponseReturnValue:
    return _read(queries.summary, deps().clock())


@bp.get("/api/dashboard/routing")
def dashboard_routing() -> ResponseReturnValue:
    return _read(queries.routing)


@bp.get("/api/analytics/tickets")
def ticket_analytics() -> ResponseReturnValue:
    return _read(queries.tickets)


@bp.get("/api/analytics/performance")
def performance() -> ResponseReturnValue:
    return _read(queries.performance)


@bp.get("/api/analytics/trends")
def trends() -> ResponseReturnValue:
    query = parse_query(TrendsQuery)
    return _read(queries.trends, query.days,
                 deps().clock().astimezone(timezone.utc).date())


@bp.get("/api/analytics/department/<path:name>")
def department(name: str) -> ResponseReturnValue:
    return _read(queries.department, name)
