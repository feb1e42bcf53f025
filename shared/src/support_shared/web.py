"""Flask plumbing every service shares: JSON errors, body validation, request ids, health, limits,
Prometheus metrics."""
from __future__ import annotations

import io
import logging
import re
import time
import uuid
from typing import Any, Callable, TypeVar

from flask import Flask, Response, current_app, g, jsonify, request
from itsdangerous import BadSignature, URLSafeSerializer
import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import jsonbody, metrics
from .logging import correlation_id
from .urls import install_id_converter

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
V = TypeVar("V", bound=Callable[..., Any])

REQUEST_ID_HEADER = "X-Request-ID"
TENANT_HEADER = "X-Tenant-ID"
DEFAULT_TENANT = "default"
MAX_BODY_BYTES = 64 * 1024
METRICS_EXTENSION = "support_shared.metrics"   # app.extensions key: extra scrape-time collectors
CURSOR_SECRET_EXTENSION = "support_shared.cursor_secret"   # app.extensions key: cursor signing
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_BODY_LIMIT_ATTR = "support_shared_max_body_bytes"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    resp = jsonify({"error": {"code": code, "message": message, "details": details}})
    resp.status_code = status
    return resp


def not_found(what: str, ident: object) -> ApiError:
    return ApiError(404, "not_found", f"{what} {ident} not found")


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors(include_url=False, include_context=False)
    ]


def parse_body(model: type[M]) -> M:
    """Validate the JSON body against ``model``; 400 with the failing fields otherwise."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send a JSON body (Content-Type: application/json)")
    limit = request.max_content_length
    if limit and (request.content_length or 0) > limit:
        raise ApiError(413, "payload_too_large", f"request body over {limit} bytes")
    raw = request.get_data(cache=True)
    try:
        data = jsonbody.loads(raw)
    except jsonbody.BodyError as exc:
        raise ApiError(400, exc.code, str(exc)) from exc
    if not isinstance(data, dict):
        raise ApiError(400, "validation_error", "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, "validation_error", "request body is invalid",
                       validation_details(exc)) from exc


def parse_query(model: type[M]) -> M:
    """Validate query parameters against ``model``; 400 with the failing parameters otherwise."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(400, "validation_error", "query parameters are invalid",
                       validation_details(exc)) from exc


def tenant_id() -> str:
    return g.get("tenant_id", DEFAULT_TENANT)


def request_id() -> str:
    return g.get("request_id") or ""


def allow_body(limit: int) -> Callable[[V], V]:
    """Let the decorated view take a body of up to ``limit`` bytes instead of the app's limit
    (``MAX_CONTENT_LENGTH``): for the few routes made to carry many items at once."""
    def mark(view: V) -> V:
        setattr(view, _BODY_LIMIT_ATTR, limit)
        return view
    return mark


def _apply_body_limit() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, _BODY_LIMIT_ATTR, None)
    if limit is not None:
        request.max_content_length = limit


def _buffer_chunked_body() -> None:
    """Read a chunked body (no Content-Length) up front, at most one byte past the limit, and
    declare its length: one over the limit is then refused with 413 like a declared one, where
    Werkzeug would cut it at the limit without a word."""
    limit = request.max_content_length
    if not limit or request.content_length is not None or "chunked" not in \
            request.headers.get("Transfer-Encoding", "").lower():
        return
    raw = request.environ["wsgi.input"].read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, "payload_too_large", f"request body over {limit} bytes")
    request.environ["wsgi.input"] = io.BytesIO(raw)
    request.environ["CONTENT_LENGTH"] = str(len(raw))


def _before() -> None:
    g.started = time.perf_counter()
    rid = request.headers.get(REQUEST_ID_HEADER, "")
    if not _REQUEST_ID_RE.match(rid):  # never echo arbitrary bytes into logs and headers
        rid = uuid.uuid4().hex
    g.request_id = rid
    g.tenant_id = request.headers.get(TENANT_HEADER, DEFAULT_TENANT)[:64] or DEFAULT_TENANT
    g.log_token = correlation_id.set(rid)
    if ("\x00" in request.path or b"%00" in request.query_string.lower()
            or b"\x00" in request.query_string):
        # PostgreSQL text cannot hold NUL: refuse it here, not as a 500 at the first query.
        raise ApiError(400, "validation_error", "NUL characters are not allowed in URLs")


def _after(resp: Response) -> Response:
    resp.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    return resp


def _teardown(_exc: BaseException | None) -> None:
    token = g.pop("log_token", None)
    if token is not None:
        correlation_id.reset(token)


def _route_label() -> str:
    """The matched URL rule (``/api/tickets/<int:ticket_id>``), never the raw path."""
    rule = request.url_rule
    return rule.rule if rule is not None else metrics.UNMATCHED_ROUTE


def _metrics_before() -> None:
    g.metrics_started = time.perf_counter()
    g.metrics_route = _route_label()
    metrics.HTTP_IN_PROGRESS.labels(request.method, g.metrics_route).inc()
    g.metrics_in_progress = True


def _metrics_after(resp: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        metrics.record_request(request.method, g.metrics_route, resp.status_code,
                               time.perf_counter() - started)
    return resp


def _metrics_teardown(_exc: BaseException | None) -> None:
    if g.pop("metrics_in_progress", False):
        metrics.HTTP_IN_PROGRESS.labels(request.method, g.metrics_route).dec()


def _metrics_view() -> Response:
    body = metrics.exposition(current_app.extensions.get(METRICS_EXTENSION, ()))
    return Response(body, status=200, content_type=metrics.CONTENT_TYPE)


def init_metrics(app: Flask) -> None:
    """Count and time every request by route template and status; serve ``GET /metrics``."""
    app.extensions.setdefault(METRICS_EXTENSION, [])
    app.before_request(_metrics_before)  # first, so later hooks that answer early are timed too
    app.after_request(_metrics_after)
    app.teardown_request(_metrics_teardown)
    app.add_url_rule("/metrics", "metrics", _metrics_view, methods=["GET"])


def register_outbox_gauge(app: Flask, engine: Engine, ttl_s: float = 5.0) -> None:
    """Add the outbox gauges (backlog, oldest age, failing rows) of ``engine``'s schema to
    ``/metrics``; for services that have an outbox table."""
    from .relay import outbox_status

    def read() -> metrics.BacklogStatus:
        with engine.connect() as conn:
            status = outbox_status(conn)
        return metrics.BacklogStatus(status.backlog, status.oldest_unpublished_age_s,
                                     status.failing)

    collectors = app.extensions.setdefault(METRICS_EXTENSION, [])
    collectors.append(metrics.OutboxCollector(read, errors=(SQLAlchemyError,), ttl_s=ttl_s))


def init_app(app: Flask) -> None:
    """Install JSON error handling, the body limit, request-id handling and metrics on ``app``."""
    if app.config.get("MAX_CONTENT_LENGTH") is None:   # Flask's default config holds None
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False
    app.wsgi_app = jsonbody.DeadlineMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    install_id_converter(app)
    init_metrics(app)
    app.before_request(_apply_body_limit)
    app.before_request(_buffer_chunked_body)
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(_teardown)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge):
        limit = request.max_content_length
        return error_response(413, "payload_too_large", f"request body over {limit} bytes")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        resp = error_response(exc.code or 500, code, exc.description or exc.name)
        for name, value in exc.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                resp.headers[name] = value  # e.g. Allow on 405
        if exc.code == 408:   # the rest of the body may still come: never reuse the connection
            resp.headers["Connection"] = "close"
        return resp

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _db_down(exc: Exception):
        logger.warning("database unavailable: %s", exc)
        return error_response(503, "service_unavailable", "database unavailable, retry later")

    @app.errorhandler(PoolTimeoutError)     # no database connection free in time
    def _busy(exc: Exception):
        logger.warning("busy: %s", exc)
        resp = error_response(503, "service_unavailable", "the service is busy, retry later")
        resp.headers["Retry-After"] = "1"
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # outer boundary: log the traceback, answer JSON
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error")


def health_response(checks: dict[str, Callable[[], bool]], service: str) -> tuple[Response, int]:
    """Run each named check; 200 when all pass, 503 otherwise."""
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            results[name] = "ok" if check() else "down"
        except (OperationalError, InterfaceError, OSError) as exc:
            logger.warning("health check %s failed: %s", name, exc)
            results[name] = "down"
    healthy = all(v == "ok" for v in results.values())
    body = {"service": service, "status": "healthy" if healthy else "unhealthy", "checks": results}
    return jsonify(body), 200 if healthy else 503


def _cursor_serializer() -> URLSafeSerializer:
    """Signs cursors with the app's key (``support_shared.internal.require_internal_token``)."""
    secret = current_app.extensions.get(CURSOR_SECRET_EXTENSION)
    if secret is None:
        raise RuntimeError("no cursor key: call support_shared.internal.require_internal_token")
    return URLSafeSerializer(secret, salt="cursor")


def encode_cursor(last_id: int) -> str:
    """Opaque keyset cursor for lists ordered by descending id, signed and bound to the
    request's tenant."""
    return str(_cursor_serializer().dumps([tenant_id(), last_id]))


def decode_cursor(cursor: str | None) -> int | None:
    """The id after which the next page starts; 400 for a cursor we did not issue (tampered,
    signed with another key, or issued to another tenant)."""
    if not cursor:
        return None
    try:
        tenant, last_id = _cursor_serializer().loads(cursor)
    except (BadSignature, ValueError, TypeError) as exc:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API issued") from exc
    if tenant != tenant_id() or type(last_id) is not int:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API issued")
    return last_id


def encode_position(kind: str, position: list[Any]) -> str:
    """Opaque signed cursor for any keyset ``position`` (JSON values) of the list ``kind``,
    bound to the request's tenant."""
    return str(_cursor_serializer().dumps([tenant_id(), kind, position]))


def decode_position(kind: str, cursor: str) -> list[Any]:
    """The position ``encode_position(kind, ...)`` signed; 400 for any other cursor."""
    try:
        tenant, found_kind, position = _cursor_serializer().loads(cursor)
    except (BadSignature, ValueError, TypeError) as exc:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API issued") from exc
    if tenant != tenant_id() or found_kind != kind or not isinstance(position, list):
        raise ApiError(400, "invalid_cursor", "cursor is not one this API issued")
    return position


class CachedCheck:
    """A health check whose result is reused for ``ttl_s`` (broker checks open a connection)."""

    def __init__(self, check: Callable[[], bool], ttl_s: float = 2.0) -> None:
        self.check = check
        self.ttl_s = ttl_s
        self._at = 0.0
        self._value = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._at > self.ttl_s:
            self._value = self.check()
            self._at = now
        return self._value


def database_ok(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.scalar(sa.text("SELECT 1")) == 1


def register_health(app: Flask, service: str, engine: Engine, rabbitmq_url: str) -> None:
    """``GET /health``: the service's database and the broker (cached), 200 or 503."""
    from .messaging.connection import broker_reachable

    checks: dict[str, Callable[[], bool]] = {
        "database": lambda: database_ok(engine),
        "rabbitmq": CachedCheck(lambda: broker_reachable(rabbitmq_url)),
    }

    @app.get("/health")
    def health() -> tuple[Response, int]:
        return health_response(checks, service)
