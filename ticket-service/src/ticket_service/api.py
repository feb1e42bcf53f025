"""HTTP entrypoint for tickets: validate, call a handler, answer JSON with the ticket's ETag."""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from support_shared.group_commit import GroupCommitter
from support_shared.schemas import StatusUpdate, TicketCreate, TicketPatch, TicketQuery
from support_shared.schemas import Ticket as TicketOut
from support_shared.web import (REQUEST_ID_ORIGIN_HEADER, decode_cursor, parse_body,
                                parse_query, request_id, tenant_id)

from . import api_activity, internal_api
from .accounts_store import AccountsUnitOfWork
from .domain import Ticket
from .handlers import (CreateResult, CreateTicket, EditTicket, UpdateStatus, create_ticket,
                       create_tickets, edit_ticket, get_ticket, list_tickets,
                       update_ticket_status)
from .persistence import TicketFilter, TicketUnitOfWork
from .webutil import (ACCOUNTS_EXTENSION, UOW_EXTENSION, actor, bad_request, expected_versions,
                      page, path_id, register_error_handlers, uow)

bp = Blueprint("tickets", __name__, url_prefix="/api/tickets")

IDEMPOTENCY_HEADER = "Idempotency-Key"
REQUEST_ID_HEADER = "X-Request-ID"
MAX_KEY_LENGTH = 200
GROUP_COMMIT_EXTENSION = "ticket_service.group_commit"


def create_committer(uow_factory: Callable[[], TicketUnitOfWork], max_batch: int,
                     timeout_s: float) -> GroupCommitter[CreateTicket, CreateResult]:
    """Creates that arrive together share one transaction (see ``handlers.create_tickets``)."""
    return GroupCommitter(
        lambda cmds: create_tickets(cmds, uow=uow_factory()),
        lambda cmd: create_ticket(cmd, uow=uow_factory()),
        max_batch=max_batch, timeout_s=timeout_s, name="ticket-create-writer")


def init_api(app: Flask, uow_factory: Callable[[], TicketUnitOfWork],
             accounts_factory: Callable[[], AccountsUnitOfWork] | None = None, *,
             group_commit_max: int = 0, group_commit_timeout_s: float = 30.0) -> None:
    """Register the public and internal routes, served with units of work from the factories.

    With ``group_commit_max`` > 0, creates go through one writer per process that commits
    up to that many together; 0 gives each create its own transaction in its request thread.
    """
    app.extensions[UOW_EXTENSION] = uow_factory
    if group_commit_max > 0:
        app.extensions[GROUP_COMMIT_EXTENSION] = create_committer(
            uow_factory, group_commit_max, group_commit_timeout_s)
    if accounts_factory is not None:
        app.extensions[ACCOUNTS_EXTENSION] = accounts_factory
        app.register_blueprint(internal_api.bp)
    register_error_handlers(app)
    app.register_blueprint(bp)
    app.register_blueprint(api_activity.bp)


def representation(ticket: Ticket) -> dict[str, Any]:
    """The public JSON shape of a ticket (support_shared.schemas.Ticket), times in UTC."""
    out = TicketOut.model_validate(ticket, from_attributes=True)
    return out.model_dump(mode="json")


def _ticket_response(ticket: Ticket, status: int = 200) -> Response:
    resp = jsonify(representation(ticket))
    resp.status_code = status
    resp.set_etag(str(ticket.version))
    return resp


def _idempotency_key() -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > MAX_KEY_LENGTH:
        raise bad_request(IDEMPOTENCY_HEADER, f"at most {MAX_KEY_LENGTH} characters")
    if key:
        return key
    if request.headers.get(REQUEST_ID_ORIGIN_HEADER, "") == "gateway":
        return None
    return request_id() if request.headers.get(REQUEST_ID_HEADER, "").strip() else None


@bp.post("")
def create_route() -> Response:
    body = parse_body(TicketCreate)
    cmd = CreateTicket(tenant_id(), body.model_dump(mode="json"), _idempotency_key(),
                       request_id(), actor())
    committer = current_app.extensions.get(GROUP_COMMIT_EXTENSION)
    result = committer.submit(cmd) if committer is not None else create_ticket(cmd, uow=uow())
    resp = _ticket_response(result.ticket, 201)
    resp.headers["Location"] = f"/api/tickets/{result.ticket.id}"
    if result.replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    return resp


@bp.get("")
def list_route() -> Response:
    query = parse_query(TicketQuery)
    before_id = decode_cursor(query.cursor)
    filters = TicketFilter(status=query.status, priority=query.priority,
                           department=query.department, q=query.q, tag=query.tag,
                           requester_id=query.requester_id)
    found = list_tickets(tenant_id(), filters, query.limit + 1, before_id, uow=uow())
    return jsonify(page("tickets", found, query.limit, representation))


@bp.get("/<raw_id>")
def get_route(raw_id: str) -> Response:
    return _ticket_response(get_ticket(tenant_id(), path_id(raw_id), uow=uow()))


@bp.patch("/<raw_id>")
def patch_route(raw_id: str) -> Response:
    ticket_id = path_id(raw_id)
    body = parse_body(TicketPatch)
    cmd = EditTicket(tenant_id(), ticket_id, body.changes(), expected_versions(), request_id(),
                     actor())
    return _ticket_response(edit_ticket(cmd, uow=uow()))


@bp.put("/<raw_id>/status")
def status_route(raw_id: str) -> Response:
    ticket_id = path_id(raw_id)
    body = parse_body(StatusUpdate)
    cmd = UpdateStatus(tenant_id(), ticket_id, body.status, expected_versions(), request_id(),
                       actor())
    return _ticket_response(update_ticket_status(cmd, uow=uow()))
