"""What every HTTP route of the service shares: units of work, ids, preconditions, pages, errors."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from flask import Flask, Response, current_app, request
from support_shared.web import ApiError, encode_cursor, error_response, not_found

from .accounts_store import AccountsUnitOfWork
from .domain import (IdempotencyKeyInFlightError, IdempotencyKeyReusedError,
                     InvalidTransitionError, TicketNotFoundError, VersionMismatchError)
from .entries import UserExistsError, UserNotFoundError
from .keys import KeyNotFoundError, TenantExistsError, TenantNotFoundError
from .persistence import TicketUnitOfWork

UOW_EXTENSION = "ticket_service.uow"
ACCOUNTS_EXTENSION = "ticket_service.accounts_uow"
# Set by the gateway from the verified API key; names who made a change in the audit trail.
KEY_ID_HEADER = "X-Key-ID"
MAX_ID = 2**63 - 1


def uow() -> TicketUnitOfWork:
    factory: Callable[[], TicketUnitOfWork] = current_app.extensions[UOW_EXTENSION]
    return factory()


def accounts_uow() -> AccountsUnitOfWork:
    factory: Callable[[], AccountsUnitOfWork] = current_app.extensions[ACCOUNTS_EXTENSION]
    return factory()


def path_id(raw: str, what: str = "ticket") -> int:
    """Ids that cannot exist (not a positive 64-bit integer) are simply not found."""
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_ID:
        raise not_found(what, raw)
    return int(raw)


def expected_versions() -> frozenset[int] | None:
    """Versions named by If-Match (strong tags only); None when there is no precondition."""
    if "If-Match" not in request.headers:
        return None
    etags = request.if_match
    if etags.star_tag:
        return None
    return frozenset(int(tag) for tag in etags.as_set()
                     if tag and tag.isascii() and tag.isdigit())


def actor() -> str | None:
    key_id = request.headers.get(KEY_ID_HEADER, "")
    return f"key:{key_id}" if key_id.isascii() and key_id.isdigit() else None


def page(name: str, items: Sequence[Any], limit: int,
         render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """``{name: [...], count, next_cursor}`` from up to ``limit + 1`` items (keyset on id)."""
    shown = items[:limit]
    more = len(items) > limit and shown[-1].id is not None
    return {name: [render(i) for i in shown], "count": len(shown),
            "next_cursor": encode_cursor(shown[-1].id) if more else None}


def _conflict(code: str) -> Callable[[Exception], Response]:
    return lambda exc: error_response(409, code, str(exc))


def _invalid_transition(exc: InvalidTransitionError) -> Response:
    details = {"from": exc.from_status, "to": exc.to_status, "allowed": list(exc.allowed)}
    return error_response(409, "invalid_transition", str(exc), details)


def _precondition_failed(exc: VersionMismatchError) -> Response:
    details = {"current_version": exc.current, "if_match": sorted(exc.expected)}
    return error_response(412, "precondition_failed", "the ticket changed since you read it",
                          details)


def _key_reused(exc: IdempotencyKeyReusedError) -> Response:
    return error_response(422, "idempotency_key_reused", str(exc), {"idempotency_key": exc.key})


def _key_in_flight(exc: IdempotencyKeyInFlightError) -> Response:
    resp = error_response(409, "idempotency_conflict", str(exc), {"idempotency_key": exc.key})
    resp.headers["Retry-After"] = "1"
    return resp


def _user_exists(exc: UserExistsError) -> Response:
    return error_response(409, "user_exists", str(exc),
                          {"email": exc.email, "user_id": exc.user_id})


def _not_found(exc: Exception) -> Response:
    return error_response(404, "not_found", str(exc))


def register_error_handlers(app: Flask) -> None:
    """Domain errors -> JSON errors, for every blueprint of the app."""
    for missing in (TicketNotFoundError, UserNotFoundError, TenantNotFoundError,
                    KeyNotFoundError):
        app.register_error_handler(missing, _not_found)
    app.register_error_handler(InvalidTransitionError, _invalid_transition)
    app.register_error_handler(VersionMismatchError, _precondition_failed)
    app.register_error_handler(IdempotencyKeyReusedError, _key_reused)
    app.register_error_handler(IdempotencyKeyInFlightError, _key_in_flight)
    app.register_error_handler(UserExistsError, _user_exists)
    app.register_error_handler(TenantExistsError, _conflict("tenant_exists"))


def bad_request(field: str, message: str) -> ApiError:
    return ApiError(400, "validation_error", message, [{"field": field, "message": message}])
