"""HTTP routes of tickets: validate, call a handler, answer JSON with the ticket's ETag."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from support_shared.schemas import StatusUpdate, TicketCreate, TicketPatch, TicketQuery
from support_shared.schemas import Ticket as TicketOut
from support_shared.web import (decode_cursor, error_response, parse_body, parse_query,
                                request_id, tenant_id)

from ..web import actor, deps, expected_versions, idempotency_key, not_found_error, page
from .domain import (FollowUpNotFoundError, InvalidTransitionError, Ticket, TicketClosedError,
                     TicketNotFoundError, VersionMismatchError)
from .handlers import (CreateResult, CreateTicket, DeleteTicket, EditTicket, UpdateStatus,
                       create_tickets, delete_ticket, edit_ticket, get_ticket, list_tickets,
                       single, update_ticket_status)
from .persistence import TicketFilter
from .waiting import APPLIED_HEADER, PREFER_HEADER, requested_wait, wait_until_routed

bp = Blueprint("tickets", __name__, url_prefix="/api/tickets")


def init_app(app: Flask) -> None:
    """Register the ticket routes and the errors of the ticket rules."""
    app.register_error_handler(TicketNotFoundError, not_found_error)
    app.register_error_handler(InvalidTransitionError, _invalid_transition)
    app.register_error_handler(TicketClosedError, _ticket_closed)
    app.register_error_handler(FollowUpNotFoundError, _unknown_follow_up)
    app.register_error_handler(VersionMismatchError, _precondition_failed)
    app.register_blueprint(bp)


def _invalid_transition(exc: InvalidTransitionError) -> Response:
    details = {"from": exc.from_status, "to": exc.to_status, "allowed": list(exc.allowed)}
    return error_response(409, "invalid_transition", str(exc), details)


def _ticket_closed(exc: TicketClosedError) -> Response:
    return error_response(409, "ticket_closed", str(exc),
                          {"ticket_id": exc.ticket_id, "reopen": {"status": "in_progress"}})


def _unknown_follow_up(exc: FollowUpNotFoundError) -> Response:
    return error_response(400, "validation_error", str(exc),
                          [{"field": "follow_up_of", "message": str(exc)}])


def _precondition_failed(exc: VersionMismatchError) -> Response:
    details = {"current_version": exc.current, "if_match": sorted(exc.expected)}
    return error_response(412, "precondition_failed", "the ticket changed since you read it",
                          details)


def representation(ticket: Ticket) -> dict[str, Any]:
    """The public JSON shape of a ticket (support_shared.schemas.Ticket), times in UTC."""
    out = TicketOut.model_validate(ticket, from_attributes=True)
    return out.model_dump(mode="json")


def _ticket_response(ticket: Ticket, status: int = 200) -> Response:
    resp = jsonify(representation(ticket))
    resp.status_code = status
    resp.set_etag(str(ticket.version))
    return resp


def _create(cmd: CreateTicket) -> CreateResult:
    """Through the group commit's writer, or (group commit off) as a batch of one."""
    dependencies = deps()
    if dependencies.committer is not None:
        return dependencies.committer.submit(cmd)
    return single(create_tickets([cmd], uow=dependencies.uow()))


@bp.post("")
def create_route() -> Response:
    body = parse_body(TicketCreate)
    # exclude_none: a create without follow_up_of keeps the fingerprint it always had
    cmd = CreateTicket(tenant_id(), body.model_dump(mode="json", exclude_none=True),
                       idempotency_key(), request_id(), actor())
    result = _create(cmd)
    wanted = requested_wait(request.headers.get(PREFER_HEADER))
    ticket, waited = _routed_within(result.ticket, wanted)
    resp = _ticket_response(ticket, 201)
    resp.headers["Location"] = f"/api/tickets/{ticket.id}"
    if result.replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    if wanted is not None:
        resp.vary.add(PREFER_HEADER)
    if waited is not None:
        resp.headers[APPLIED_HEADER] = f"wait={waited}"
    return resp


def _routed_within(created: Ticket, seconds: int | None) -> tuple[Ticket, int | None]:
    """The ticket once routed and the wait applied, or the ticket as created and None (no
    preference, or not routed within ``seconds``)."""
    if seconds is None:
        return created, None
    if created.department is not None:
        return created, seconds
    assert created.id is not None
    ticket_id = created.id
    uow = deps().uow

    def read() -> Ticket | None:
        with uow() as work:   # read only: one short transaction per poll
            return work.tickets.get(created.tenant_id, ticket_id)

    routed = wait_until_routed(read, seconds)
    return (routed, seconds) if routed is not None else (created, None)


@bp.get("")
def list_route() -> Response:
    query = parse_query(TicketQuery)
    before_id = decode_cursor(query.cursor)
    filters = TicketFilter(status=query.status, priority=query.priority,
                           department=query.department, q=query.q, tag=query.tag,
                           requester_id=query.requester_id, ai_status=query.ai_status,
                           sentiment=query.sentiment, requires_action=query.requires_action)
    found = list_tickets(tenant_id(), filters, query.limit + 1, before_id, uow=deps().uow())
    return jsonify(page("tickets", found, query.limit, representation))


@bp.get("/<int:ticket_id>")
def get_route(ticket_id: int) -> Response:
    return _ticket_response(get_ticket(tenant_id(), ticket_id, uow=deps().uow()))


@bp.patch("/<int:ticket_id>")
def patch_route(ticket_id: int) -> Response:
    body = parse_body(TicketPatch)
    cmd = EditTicket(tenant_id(), ticket_id, body.changes(), expected_versions(), request_id(),
                     actor())
    return _ticket_response(edit_ticket(cmd, uow=deps().uow()))


@bp.delete("/<int:ticket_id>")
def delete_route(ticket_id: int) -> Response:
    cmd = DeleteTicket(tenant_id(), ticket_id, expected_versions(), request_id(), actor())
    delete_ticket(cmd, uow=deps().uow())
    return Response(status=204)


@bp.put("/<int:ticket_id>/status")
def status_route(ticket_id: int) -> Response:
    body = parse_body(StatusUpdate)
    cmd = UpdateStatus(tenant_id(), ticket_id, body.status, expected_versions(), request_id(),
                       actor())
    return _ticket_response(update_ticket_status(cmd, uow=deps().uow()))
