"""What every feature's routes share: the app's dependencies, ids, preconditions, pages, keys."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Sequence

from flask import Flask, Response, jsonify, request
from support_shared import dependencies
from support_shared.group_commit import GroupCommitTimeout
from support_shared.web import ApiError, encode_cursor, error_response

from .tickets.domain import IdempotencyKeyInFlightError, IdempotencyKeyReusedError

if TYPE_CHECKING:
    from .app import Dependencies

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
# Set by the gateway from the verified API key; names who made a change in the audit trail.
KEY_ID_HEADER = "X-Key-ID"


def deps() -> Dependencies:
    """The app's ``Dependencies`` (built by ``create_app``)."""
    found: Dependencies = dependencies.of()
    return found


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


def idempotency_key() -> str | None:
    """The request's ``Idempotency-Key``: the only header that makes a create idempotent
    (``X-Request-ID`` is a trace id, never a key)."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > MAX_KEY_LENGTH:
        raise bad_request(IDEMPOTENCY_HEADER, f"at most {MAX_KEY_LENGTH} characters")
    return key or None


def created_response(body: dict[str, Any], replayed: bool, location: str | None = None
                     ) -> Response:
    """201 with the created item; a replay of an earlier create says so."""
    resp = jsonify(body)
    resp.status_code = 201
    if location:
        resp.headers["Location"] = location
    if replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    return resp


def page(name: str, items: Sequence[Any], limit: int,
         render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """``{name: [...], count, next_cursor}`` from up to ``limit + 1`` items (keyset on id)."""
    shown = items[:limit]
    more = len(items) > limit and shown[-1].id is not None
    return {name: [render(i) for i in shown], "count": len(shown),
            "next_cursor": encode_cursor(shown[-1].id) if more else None}


def bad_request(field: str, message: str) -> ApiError:
    return ApiError(400, "validation_error", message, [{"field": field, "message": message}])


def conflict(code: str) -> Callable[[Exception], Response]:
    return lambda exc: error_response(409, code, str(exc))


def not_found_error(exc: Exception) -> Response:
    return error_response(404, "not_found", str(exc))


def _key_reused(exc: IdempotencyKeyReusedError) -> Response:
    return error_response(422, "idempotency_key_reused", str(exc), {"idempotency_key": exc.key})


def _key_in_flight(exc: IdempotencyKeyInFlightError) -> Response:
    resp = error_response(409, "idempotency_conflict", str(exc), {"idempotency_key": exc.key})
    resp.headers["Retry-After"] = "1"
    return resp


def _outcome_unknown(exc: GroupCommitTimeout) -> Response:
    """The create writer did not answer in time, but the create may still commit.

    Not 503 (which says "not done, retry"): a retry without an Idempotency-Key could then
    create a second ticket. With the same key a retry is safe: it replays the first create,
    or is 409 while that is still in flight. No Retry-After, so nothing invites a blind retry.
    """
    logger.warning("outcome unknown: %s", exc)
    return error_response(504, "outcome_unknown",
                          "the request timed out and may still complete; retry with the same "
                          "Idempotency-Key to get its outcome")


def register_error_handlers(app: Flask) -> None:
    """The errors every feature's creates may raise -> JSON errors (after ``init_app``, so
    these replace support_shared's generic answers)."""
    app.register_error_handler(GroupCommitTimeout, _outcome_unknown)
    app.register_error_handler(IdempotencyKeyReusedError, _key_reused)
    app.register_error_handler(IdempotencyKeyInFlightError, _key_in_flight)
