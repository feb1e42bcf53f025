"""HTTP routes of the dashboards: validate the query, read one tenant's numbers, answer JSON."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timezone
from typing import TYPE_CHECKING, Any, Callable, Iterator

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.engine import Connection
from support_shared import dependencies
from support_shared.schemas import TrendsQuery
from support_shared.sla import SlaReportQuery
from support_shared.web import parse_query, tenant_id

from . import queries, sla

if TYPE_CHECKING:
    from .app import Dependencies

bp = Blueprint("analytics", __name__)

def deps() -> Dependencies:
    """The app's ``Dependencies`` (built by ``create_app``)."""
    found: Dependencies = dependencies.of()
    return found


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


@bp.get("/api/analytics/agents")
def agents() -> ResponseReturnValue:
    return _read(queries.agents)


@bp.get("/api/analytics/department/<path:name>")
def department(name: str) -> ResponseReturnValue:
    return _read(queries.department, name)


@bp.get("/api/analytics/sla")
def sla_report() -> ResponseReturnValue:
    """SLA compliance per department and priority, breaches, response and resolution times."""
    query = parse_query(SlaReportQuery)
    return _read(sla.report, query.days, deps().clock())
