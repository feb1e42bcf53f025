"""The public routes: which service answers each /api path, plus the composed and health routes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from support_shared.exchange import MAX_BATCH_BYTES
from support_shared.web import ApiError, allow_body

from .clients import UpstreamResponse
from .config import (AI_SERVICE, ANALYTICS_SERVICE, INTEGRATION_SERVICE, ROUTING_SERVICE,
                     TICKET_SERVICE)
from .context import downstream_identity
from .forwarding import (RESPONSE_HEADERS, downstream_path, passthrough, quote_segment,
                         request_body, request_headers)
from .state import gateway


@dataclass(frozen=True)
class Route:
    rule: str
    methods: tuple[str, ...]
    service: str
    slow: bool = False          # waits for a model: the longer categorize read timeout
    # The service's path when it differs from the public one (formatted with the path values).
    downstream: str | None = None
    waits: bool = False         # honours Prefer: wait=N (N <= 10): read timeout + that wait
    stream: bool = False        # the body is relayed as it arrives (an export)
    max_body: int | None = None  # a body limit other than the gateway's 64 KiB
    bulk: bool = False          # many tickets at once: the longer bulk read timeout


ROUTES: tuple[Route, ...] = (
    Route("/api/tickets", ("GET", "POST"), TICKET_SERVICE, waits=True),
    Route("/api/tickets/<int:ticket_id>", ("GET", "PATCH", "DELETE"), TICKET_SERVICE),
    Route("/api/tickets/<int:ticket_id>/status", ("PUT",), TICKET_SERVICE),
    Route("/api/tickets/<int:ticket_id>/comments", ("GET", "POST"), TICKET_SERVICE),
    Route("/api/tickets/<int:ticket_id>/history", ("GET",), TICKET_SERVICE),
    Route("/api/tickets/<int:ticket_id>/triage", ("POST",), ROUTING_SERVICE),
    Route("/api/users", ("GET", "POST"), TICKET_SERVICE),
    Route("/api/users/<int:user_id>", ("GET",), TICKET_SERVICE),
    Route("/api/categorize", ("POST",), AI_SERVICE, slow=True),
    Route("/api/departments", ("GET", "POST"), ROUTING_SERVICE),
    Route("/api/departments/<name>", ("GET", "PATCH"), ROUTING_SERVICE),
    Route("/api/route", ("POST",), ROUTING_SERVICE),
    Route("/api/route/<int:ticket_id>", ("PUT",), ROUTING_SERVICE),
    Route("/api/routing/statistics", ("GET",), ROUTING_SERVICE),
    Route("/api/routing/history/<int:ticket_id>", ("GET",), ROUTING_SERVICE),
    Route("/api/dashboard/summary", ("GET",), ANALYTICS_SERVICE),
    Route("/api/dashboard/routing", ("GET",), ANALYTICS_SERVICE),
    Route("/api/dashboard/queues", ("GET",), ANALYTICS_SERVICE),
    Route("/dashboard", ("GET",), ANALYTICS_SERVICE),
    Route("/dashboard/static/<path:filename>", ("GET",), ANALYTICS_SERVICE),
    Route("/api/analytics/tickets", ("GET",), ANALYTICS_SERVICE),
    Route("/api/analytics/performance", ("GET",), ANALYTICS_SERVICE),
    Route("/api/analytics/trends", ("GET",), ANALYTICS_SERVICE),
    Route("/api/analytics/department/<name>", ("GET",), ANALYTICS_SERVICE),
    Route("/api/tickets/<int:ticket_id>/categorization", ("GET",), AI_SERVICE,
          downstream="/api/categorizations/{ticket_id}"),
    Route("/api/settings", ("GET", "PUT"), TICKET_SERVICE),
    Route("/api/tickets/batch", ("POST",), TICKET_SERVICE, max_body=MAX_BATCH_BYTES, bulk=True),
    Route("/api/tickets/export", ("GET",), TICKET_SERVICE, stream=True, bulk=True),
    Route("/api/agents", ("GET", "POST"), ROUTING_SERVICE),
    Route("/api/agents/<int:agent_id>", ("GET", "PATCH"), ROUTING_SERVICE),
    Route("/api/tickets/<int:ticket_id>/assignee", ("PUT",), ROUTING_SERVICE),
    Route("/api/analytics/agents", ("GET",), ANALYTICS_SERVICE),
    Route("/api/sla/policy", ("GET", "PUT"), TICKET_SERVICE),
    Route("/api/sla/calendar", ("GET", "PUT"), TICKET_SERVICE),
    Route("/api/analytics/sla", ("GET",), ANALYTICS_SERVICE),
    Route("/api/sources", ("GET", "POST"), INTEGRATION_SERVICE),
    Route("/api/sources/<name>", ("GET", "PATCH", "DELETE"), INTEGRATION_SERVICE),
    Route("/api/ingestions", ("POST",), INTEGRATION_SERVICE),
    Route("/api/ingestions/<job_id>", ("GET",), INTEGRATION_SERVICE),
    Route("/api/ingestions/<job_id>/logs", ("GET",), INTEGRATION_SERVICE),
    Route("/api/ingestions/<job_id>/cancel", ("POST",), INTEGRATION_SERVICE),
    Route("/api/webhooks", ("GET", "POST"), INTEGRATION_SERVICE),
    Route("/api/webhooks/<webhook_id>", ("GET", "PATCH", "DELETE"), INTEGRATION_SERVICE),
    Route("/api/webhooks/<webhook_id>/deliveries", ("GET",), INTEGRATION_SERVICE),
    Route("/api/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver", ("POST",),
          INTEGRATION_SERVICE),
    Route("/api/webhooks/inbound/<source>", ("POST",), INTEGRATION_SERVICE),
)
# The longest Prefer: wait ticket-service honours (ticket_service.tickets.waiting.MAX_WAIT_S).
MAX_PREFER_WAIT_S = 10
# Query parameters the composed department route hands to ticket-service's list.
TICKET_LIST_PARAMS: tuple[str, ...] = ("limit", "cursor", "status", "priority")

bp = Blueprint("gateway", __name__)


def forward(service: str, *, read_timeout_s: float | None = None,
            path: str | None = None) -> Response:
    """Send the current request to ``service`` under the same path (or ``path``) and return
    its answer."""
    client = gateway().clients[service]
    upstream = client.request(
        request.method,
        path or downstream_path(request),
        query=request.query_string.decode("latin-1"),
        body=request_body(request),
        headers={**request_headers(request), **downstream_identity()},
        read_timeout_s=read_timeout_s,
    )
    return passthrough(upstream, client.base_url)


def forward_stream(service: str, *, read_timeout_s: float | None = None) -> Response:
    """Send the current GET to ``service`` and relay its answer's body as it arrives."""
    client = gateway().clients[service]
    upstream = client.stream(downstream_path(request),
                             query=request.query_string.decode("latin-1"),
                             headers={**request_headers(request), **downstream_identity()},
                             read_timeout_s=read_timeout_s)
    resp = Response(upstream.chunks(), status=upstream.status_code)
    resp.headers.remove("Content-Type")
    for name in RESPONSE_HEADERS:
        value = upstream.headers.get(name)
        if value is not None:
            resp.headers[name] = value
    return resp


def _forward_view(route: Route) -> Callable[..., Response]:
    def view(**path_params: object) -> Response:
        settings = gateway().settings
        timeout = settings.categorize_timeout_s if route.slow else settings.read_timeout_s
        if route.waits and "Prefer" in request.headers:
            timeout += MAX_PREFER_WAIT_S
        if route.bulk:
            timeout = settings.bulk_timeout_s
        if route.stream:
            return forward_stream(route.service, read_timeout_s=timeout)
        path = None
        if route.downstream is not None:
            path = route.downstream.format(**{k: quote_segment(str(v))
                                              for k, v in path_params.items()})
        return forward(route.service, read_timeout_s=timeout, path=path)

    return allow_body(route.max_body)(view) if route.max_body else view


for _route in ROUTES:
    bp.add_url_rule(_route.rule, endpoint=f"forward {_route.rule}",
                    view_func=_forward_view(_route), methods=list(_route.methods))


def _department_name(resp: UpstreamResponse) -> str:
    try:
        body = resp.json()
    except ValueError:
        body = None
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        raise ApiError(502, "bad_gateway", "routing-service answered without a department name",
                       {"service": ROUTING_SERVICE})
    return name


@bp.get("/api/departments/<name>/tickets")
def department_tickets(name: str) -> Response:
    """Tickets of one department: routing-service resolves the name, ticket-service lists."""
    clients = gateway().clients
    headers = downstream_identity()
    routing = clients[ROUTING_SERVICE]
    found = routing.request("GET", f"/api/departments/{quote_segment(name)}", headers=headers)
    if found.status_code != 200:
        return passthrough(found, routing.base_url)
    query = {"department": _department_name(found)}
    query.update({k: request.args[k] for k in TICKET_LIST_PARAMS if k in request.args})
    tickets = clients[TICKET_SERVICE]
    listed = tickets.request("GET", "/api/tickets", query=urlencode(query), headers=headers)
    return passthrough(listed, tickets.base_url)


@bp.get("/api/health")
def health() -> tuple[Response, int]:
    """The whole suite's health: 200 only when every service, PostgreSQL and RabbitMQ are ok."""
    result, status = gateway().health.check(downstream_identity())
    return jsonify(result.model_dump()), status


@bp.get("/health")
def liveness() -> Response:
    """This gateway process answers (for container checks), whatever the services' state."""
    return jsonify({"service": "api-gateway", "status": "healthy", "checks": {}})
