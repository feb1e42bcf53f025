"""HTTP routes of routing-service: departments, manual routing, statistics and history."""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request

from support_shared import dependencies

from support_shared.schemas import (DepartmentCreate, DepartmentPatch, Page, RerouteRequest,
                                    RouteRequest, TriageRequest)
from support_shared.web import (ApiError, decode_cursor, parse_body, parse_query, request_id,
                                tenant_id)

from . import views
from .departments import create_department, update_department
from .domain import (Department, DepartmentExistsError, DepartmentNotFoundError,
                     IdempotencyKeyReusedError, Method, RouteResult, RoutingError,
                     TicketClosedError, TicketNotFoundError, TicketNotRoutedError,
                     TriageDepartmentRequiredError)
from .handlers import route_ticket
from .persistence import RoutingUnitOfWork
from .triage import TriageConflictError, triage_ticket

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


def _key_reused(exc: IdempotencyKeyReusedError) -> ApiError:
    return ApiError(422, "idempotency_key_reused", str(exc), {"idempotency_key": exc.key})


@bp.get("/departments")
def list_departments() -> Response:
    query = parse_query(Page)
    return jsonify(views.list_departments(tenant_id(), uow=_uow(), limit=query.limit,
                                          after=decode_cursor(query.cursor)))


@bp.post("/departments")
def create() -> tuple[Response, int]:
    """Add a department (admin scope at the gateway); 409 when the name is taken."""
    body = parse_body(DepartmentCreate)
    department = Department(name=body.name, description=body.description,
                            min_confidence=body.min_confidence, active=body.active,
                            keywords=tuple(body.keywords),
                            assignment_policy=body.assignment_policy)
    try:
        created, replayed = create_department(
            tenant_id(), department, uow=_uow(), correlation_id=request_id() or None,
            idempotency_key=_idempotency_key())
    except DepartmentExistsError as exc:
        raise ApiError(409, "department_exists", str(exc), {"name": exc.name}) from exc
    except IdempotencyKeyReusedError as exc:
        raise _key_reused(exc) from exc
    resp = jsonify({**created, "ticket_count": 0})
    resp.headers["Location"] = f"/api/departments/{quote(created['name'], safe='')}"
    if replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    return resp, 201


@bp.get("/departments/<name>")
def get_department(name: str) -> Response:
    department = views.get_department(tenant_id(), name, uow=_uow())
    if department is None:
        raise _department_not_found(name)
    return jsonify(department)


@bp.patch("/departments/<name>")
def update(name: str) -> Response:
    """Edit a department; ``{"active": false}`` deactivates it (its name stays in history)."""
    changes = parse_body(DepartmentPatch).changes()
    try:
        update_department(tenant_id(), name, changes, uow=_uow(),
                          correlation_id=request_id() or None)
    except DepartmentNotFoundError as exc:
        raise _department_not_found(name) from exc
    except TriageDepartmentRequiredError as exc:
        raise ApiError(409, "triage_department_required", str(exc), {"name": exc.name}) from exc
    return get_department(name)


@bp.post("/tickets/<int:ticket_id>/triage")
def triage(ticket_id: int) -> Response:
    """Confirm or reroute a ticket: it leaves review and becomes a labelled example."""
    _check_ticket_id(ticket_id)
    body = parse_body(TriageRequest)
    try:
        result = triage_ticket(tenant_id(), ticket_id, body.action, body.department, uow=_uow(),
                               correlation_id=request_id() or None,
                               idempotency_key=_idempotency_key())
    except (TicketNotRoutedError, TriageConflictError) as exc:
        raise ApiError(409, "triage_conflict", str(exc), {"ticket_id": ticket_id}) from exc
    except RoutingError as exc:
        raise _routing_error(exc, ticket_id, body.department or "") from exc
    return _route_response(result)


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
    except RoutingError as exc:
        raise _routing_error(exc, ticket_id, department) from exc
    return _route_response(result)


def _routing_error(exc: RoutingError, ticket_id: int, department: str) -> ApiError:
    """The answer to a manual routing's expected failure."""
    if isinstance(exc, TicketNotFoundError):
        return _ticket_not_found(ticket_id)
    if isinstance(exc, DepartmentNotFoundError):
        return _department_not_found(department)
    if isinstance(exc, IdempotencyKeyReusedError):
        return _key_reused(exc)
    if isinstance(exc, TicketClosedError):
        return ApiError(409, "ticket_closed", str(exc), {"ticket_id": ticket_id})
    raise exc


def _route_response(result: RouteResult) -> Response:
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
