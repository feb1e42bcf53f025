"""What crosses the gateway: which request headers go down, which response headers come back."""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from flask import Request, Response

if TYPE_CHECKING:
    from .clients import UpstreamResponse

# Client headers a service acts on; identity headers are set by the gateway, never copied.
# X-Webhook-Signature: a helpdesk's inbound webhook, verified by integration-service.
REQUEST_HEADERS: tuple[str, ...] = ("Content-Type", "Accept", "If-Match", "Idempotency-Key",
                                    "Prefer", "X-Webhook-Signature")
# Service headers the client needs (concurrency, created resources, replays, back-off), and
# the dashboard page's own protections (its policy is the service's to state).
RESPONSE_HEADERS: tuple[str, ...] = (
    "Content-Type", "ETag", "Location", "Idempotent-Replayed", "Retry-After",
    "Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
    "Cache-Control", "Preference-Applied", "Vary",
)
# RFC 3986 pchar minus "%": the decoded path is quoted back exactly once.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def downstream_path(req: Request) -> str:
    """The request path, percent-encoded again (Werkzeug hands it over decoded)."""
    return quote(req.path, safe=_PATH_SAFE)


def quote_segment(value: str) -> str:
    """One path segment (a department name) ready to put in a downstream URL."""
    return quote(value, safe="")


def request_headers(req: Request) -> dict[str, str]:
    return {name: req.headers[name] for name in REQUEST_HEADERS if name in req.headers}


def request_body(req: Request) -> bytes | None:
    """The raw body, unparsed (the service validates it); over the limit raises 413."""
    data = req.get_data(cache=False)
    return data or None


def passthrough(upstream: "UpstreamResponse", base_url: str | None = None) -> Response:
    """The service's status, body and client-facing headers, unchanged.

    An absolute ``Location`` pointing at the service itself is cut down to its path, so
    clients never see internal addresses.
    """
    resp = Response(upstream.content, status=upstream.status_code)
    resp.headers.remove("Content-Type")
    for name in RESPONSE_HEADERS:
        value = upstream.headers.get(name)
        if value is not None:
            resp.headers[name] = value
    location = resp.headers.get("Location")
    if base_url and location and location.startswith(base_url.rstrip("/") + "/"):
        resp.headers["Location"] = location[len(base_url.rstrip("/")):]
    return resp
