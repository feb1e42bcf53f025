"""HTTP routes of agents and assignment: ``/api/agents...`` and ``PUT /api/tickets/{id}/assignee``.

Another tenant's agent is a 404 like a missing one (every query is by tenant)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from support_shared.assignment import AgentCreate, AgentPatch, AgentQuery, AssigneeRequest
from support_shared.web import ApiError, decode_cursor, encode_cursor, parse_body, parse_query, \
    request_id, tenant_id

from ..api import MAX_TICKET_ID, _uow
from ..domain import (DepartmentNotFoundError, TicketClosedError, TicketNotFoundError,
                      TicketNotRoutedError)
from .agents import agent_json, create_agent, get_agent, update_agent
from .domain import Agent, AgentExistsError, AgentNotFoundError, AgentUnavailableError
from .manual import set_assignee

bp = Blueprint("assignment", __name__, url_prefix="/api")


def _agent_not_found(agent_id: int) -> ApiError:
    return ApiError(404, "agent_not_found", f"agent {agent_id} not found")


def _department_not_found(exc: DepartmentNotFoundError) -> ApiError:
    message = f"department {exc.name!r} not found"
    return ApiError(422, "validation_error", message,
                    [{"field": "departments", "message": message}])


def _check_id(agent_id: int) -> None:
    if not 1 <= agent_id <= MAX_TICKET_ID:
        raise _agent_not_found(agent_id)


@bp.get("/agents")
def list_agents() -> Response:
    """A page of the tenant's agents, oldest first, optionally by status or department."""
    query = parse_query(AgentQuery)
    after = decode_cursor(query.cursor)
    with _uow() as uow:
        found, scanned = [], after
        # Filters apply after the page is read: read on until the page is full or all is read.
        while len(found) <= query.limit:
            rows = uow.assignments.page_agents(tenant_id(), after=scanned, limit=200)
            if not rows:
                break
            for agent in rows:
                scanned = agent.id
                if _matches(agent, query):
                    found.append(agent)
                    if len(found) > query.limit:
                        break
    page = found[:query.limit]
    more = len(found) > query.limit
    return jsonify({"agents": [agent_json(a) for a in page],
                    "next_cursor": encode_cursor(page[-1].id) if more and page else None})


def _matches(agent: Agent, query: AgentQuery) -> bool:
    if query.status is not None and agent.status != query.status:
        return False
    return query.department is None or agent.serves(query.department)


@bp.post("/agents")
def create() -> tuple[Response, int]:
    """Add an agent (admin scope at the gateway); 409 when the email is taken."""
    body = parse_body(AgentCreate)
    agent = Agent(tenant_id=tenant_id(), name=body.name, email=str(body.email),
                  capacity=body.capacity, departments=tuple(body.departments),
                  skills=tuple(body.skills), status=body.status)
    try:
        created = create_agent(agent, uow=_uow(), correlation_id=request_id() or None)
    except AgentExistsError as exc:
        raise ApiError(409, "agent_exists", str(exc), {"email": exc.email}) from exc
    except DepartmentNotFoundError as exc:
        raise _department_not_found(exc) from exc
    resp = jsonify(agent_json(created))
    resp.headers["Location"] = f"/api/agents/{created.id}"
    return resp, 201


@bp.get("/agents/<int:agent_id>")
def get(agent_id: int) -> Response:
    _check_id(agent_id)
    try:
        return jsonify(agent_json(get_agent(tenant_id(), agent_id, uow=_uow())))
    except AgentNotFoundError as exc:
        raise _agent_not_found(agent_id) from exc


@bp.patch("/agents/<int:agent_id>")
def update(agent_id: int) -> Response:
    """Edit an agent; ``away``/``offline`` hands their open tickets back."""
    _check_id(agent_id)
    changes = parse_body(AgentPatch).changes()
    try:
        agent = update_agent(tenant_id(), agent_id, changes, uow=_uow(),
                             correlation_id=request_id() or None)
    except AgentNotFoundError as exc:
        raise _agent_not_found(agent_id) from exc
    except DepartmentNotFoundError as exc:
        raise _department_not_found(exc) from exc
    return jsonify(agent_json(agent))


@bp.put("/tickets/<int:ticket_id>/assignee")
def assignee(ticket_id: int) -> Response:
    """Give a routed ticket to an agent by hand, or (``agent_id`` null) to nobody."""
    if not 1 <= ticket_id <= MAX_TICKET_ID:
        raise ApiError(404, "ticket_not_found", f"ticket {ticket_id} not found")
    body = parse_body(AssigneeRequest)
    try:
        result = set_assignee(tenant_id(), ticket_id, body.agent_id, uow=_uow(),
                              correlation_id=request_id() or None)
    except TicketNotFoundError as exc:
        raise ApiError(404, "ticket_not_found", str(exc)) from exc
    except AgentNotFoundError as exc:
        raise _agent_not_found(exc.agent_id) from exc
    except TicketClosedError as exc:
        raise ApiError(409, "ticket_closed", str(exc), {"ticket_id": ticket_id}) from exc
    except TicketNotRoutedError as exc:
        raise ApiError(409, "ticket_not_routed", str(exc), {"ticket_id": ticket_id}) from exc
    except AgentUnavailableError as exc:
        raise ApiError(409, "agent_unavailable", str(exc),
                       {"agent_id": exc.agent_id, "reason": exc.reason}) from exc
    return jsonify({"ticket_id": result.ticket_id, "department": result.department,
                    "agent_id": result.agent_id, "previous_agent_id": result.previous_agent_id,
                    "assignment_version": result.assignment_version,
                    "changed": result.changed})
