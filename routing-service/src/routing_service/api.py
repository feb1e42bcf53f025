"""HTTP routes of routing-service: departments, manual routing, statistics and history."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, jsonify, request

from support_shared import dependencies

from support_shared.schemas import RerouteRequest, RouteRequest
from support_shared.web import ApiError, parse_body, request_id, tenant_id

from . import views
from .domain import (DepartmentNotFoundError, IdempotencyKeyReusedError, Method, RouteResult,
                     TicketClosedError, TicketNotFoundError)
from .handlers import route_ticket
from .persistence import RoutingUnitOfWork

if TYPE_CHECKING:
    from .app import Dependencies

bp = Blueprint("routing", __name__, url_prefix="/api")

MAX_TICKET_ID = 2**63 - 1
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


def deps() -> Dependencies:
    """The app's ``Dependencies`` (built by ``create_app``)."""
    found: Dependencies = dependencies.of()
    return found


def _uow() -> RoutingUnitOfWork:
    return deps().uow()


def _ticket_not_found(ticket_id: int) -> ApiError:
    return ApiError(404, "ticket_not_found", f"ticket {ticket_id} not found")


def _department_not_found(name: str) -> ApiError:
    return ApiError(404, "department_not_found", f"department {name!r} not found")


def _check_ticket_id(ticket_id: int) -> None:
    if not 1 <= ticket_id <= MAX_TICKET_ID:
        raise _ticket_not_found(ticket_id)


def _idempotency_key() -> str | None:
    """The client's Idempotency-Key (only that header makes a request idempotent)."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > MAX_KEY_LENGTH:
        message = f"at most {MAX_KEY_LENGTH} characters"
        raise ApiError(400, "validation_error", message,
                       [{"field": IDEMPOTENCY_HEADER, "message": message}])
    return key or None


@bp.get("/departments")
def list_departments() -> Response:
    return jsonify({"departments": views.list_departments(tenant_id(), uow=_uow())})


@bp.get("/departments/<name>")
def get_department(name: str) -> Response:
    department = views.get_department(tenant_id(), name, uow=_uow())
    if department is None:
        raise _department_not_found(name)
    return jsonify(department)


@bp.post("/route")
def route() -> Response:
    body = parse_body(RouteRequest)
    return _route(body.ticket_id, body.department, "manual")


@bp.put("/route/<int:ticket_id>")
def reroute(ticket_id: int) -> Response:
    body = parse_body(RerouteRequest)
    return _route(ticket_id, body.department, "reroute")


def _route(ticket_id: int, department: str, method: Method) -> Response:
    _check_ticket_id(ticket_id)
    key = _idempotency_key()
    try:
        result = route_ticket(tenant_id(), ticket_id, department, method, uow=_uow(),
                              correlation_id=request_id() or None, idempotency_key=key)
    except TicketNotFoundError as exc:
        raise _ticket_not_found(ticket_id) from exc
    except DepartmentNotFoundError as exc:
        raise _department_not_found(department) from exc
    except TicketClosedError as exc:
        raise ApiError(409, "ticket_closed", str(exc), {"ticket_id": ticket_id}) from exc
    except IdempotencyKeyReusedError as exc:
        raise ApiError(422, "idempotency_key_reused", str(exc),
                       {"idempotency_key": exc.key}) from exc
    resp = jsonify(_result_json(result))
    if result.replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    return resp


def _result_json(result: RouteResult) -> dict[str, object]:
    return {
        "ticket_id": result.ticket_id,
        "department": result.department,
        "previous_department": result.previous_department,
        "method": result.method,
        "routing_version": result.routing_version,
        "needs_review": result.needs_review,
        "routed_at": views.iso(result.routed_at),
        "changed": result.changed,
    }


@bp.get("/routing/statistics")
def statistics() -> Response:
    return jsonify(views.statistics(tenant_id(), uow=_uow()))


@bp.get("/routing/history/<int:ticket_id>")
def history(ticket_id: int) -> Response:
    _check_ticket_id(ticket_id)
    body = views.ticket_history(tenant_id(), ticket_id, uow=_uow())
    if body is None:
        raise _ticket_not_found(ticket_id)
    return jsonify(body)
