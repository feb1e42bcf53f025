"""HTTP routes of a ticket's comments and history, and of requesters (users)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from support_shared.schemas import AuditEntry as AuditOut
from support_shared.schemas import Comment as CommentOut
from support_shared.schemas import CommentCreate, CommentQuery, Page, UserCreate, UserQuery
from support_shared.schemas import User as UserOut
from support_shared.web import (decode_cursor, error_response, parse_body, parse_query,
                                request_id, tenant_id)

from ..web import actor, created_response, deps, idempotency_key, not_found_error, page
from . import handlers as activity
from .domain import AuditEntry, Comment, User, UserExistsError, UserNotFoundError

bp = Blueprint("activity", __name__, url_prefix="/api")


def init_app(app: Flask) -> None:
    """Register the routes of comments, history and users, and their errors."""
    app.register_error_handler(UserNotFoundError, not_found_error)
    app.register_error_handler(UserExistsError, _user_exists)
    app.register_blueprint(bp)


def _user_exists(exc: UserExistsError) -> Response:
    return error_response(409, "user_exists", str(exc),
                          {"email": exc.email, "user_id": exc.user_id})


def _comment(comment: Comment) -> dict[str, Any]:
    return CommentOut.model_validate(comment, from_attributes=True).model_dump(mode="json")


def _user(user: User) -> dict[str, Any]:
    return UserOut.model_validate(user, from_attributes=True).model_dump(mode="json")


def _entry(entry: AuditEntry) -> dict[str, Any]:
    return AuditOut.model_validate(entry, from_attributes=True).model_dump(mode="json")


@bp.post("/tickets/<int:ticket_id>/comments")
def add_comment(ticket_id: int) -> Response:
    body = parse_body(CommentCreate)
    cmd = activity.AddComment(tenant_id(), ticket_id, body.author_name, body.author_email,
                              body.body, request_id(), actor(), idempotency_key(),
                              body.author_kind)
    created = activity.add_comment(cmd, uow=deps().uow())
    return created_response(_comment(created.item), created.replayed)


@bp.get("/tickets/<int:ticket_id>/comments")
def list_comments(ticket_id: int) -> Response:
    query = parse_query(CommentQuery)
    found = activity.list_comments(tenant_id(), ticket_id, query.limit + 1,
                                   decode_cursor(query.cursor), uow=deps().uow(),
                                   public_only=query.view == "requester")
    return jsonify(page("comments", found, query.limit, _comment))


@bp.get("/tickets/<int:ticket_id>/history")
def history(ticket_id: int) -> Response:
    query = parse_query(Page)
    found = activity.ticket_history(tenant_id(), ticket_id, query.limit + 1,
                                    decode_cursor(query.cursor), uow=deps().uow())
    return jsonify({"ticket_id": ticket_id, **page("history", found, query.limit, _entry)})


@bp.post("/users")
def create_user() -> Response:
    body = parse_body(UserCreate)
    created = activity.create_user(tenant_id(), body.name, body.email, uow=deps().uow(),
                                   idempotency_key=idempotency_key())
    return created_response(_user(created.item), created.replayed,
                            f"/api/users/{created.item.id}")


@bp.get("/users")
def list_users() -> Response:
    query = parse_query(UserQuery)
    found = activity.list_users(tenant_id(), query.limit + 1, decode_cursor(query.cursor),
                                query.email, uow=deps().uow())
    return jsonify(page("users", found, query.limit, _user))


@bp.get("/users/<int:user_id>")
def get_user(user_id: int) -> Response:
    return jsonify(_user(activity.get_user(tenant_id(), user_id, uow=deps().uow())))
