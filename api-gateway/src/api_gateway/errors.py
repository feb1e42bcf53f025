"""Downstream failures and the one table that turns them into the gateway's JSON errors."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from typing import TYPE_CHECKING

from flask import Response
from urllib3.exceptions import (ConnectTimeoutError, HTTPError, ProtocolError,
                                TimeoutError as UrllibTimeoutError)

from support_shared.breaker import CircuitOpenError
from support_shared.web import error_response

from .forwarding import passthrough

if TYPE_CHECKING:
    from .clients import UpstreamResponse

logger = logging.getLogger(__name__)


class ServerError(Exception):
    """The service answered with a 5xx status."""

    def __init__(self, response: "UpstreamResponse") -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class UpstreamFailure(Exception):
    """A call to ``service`` failed; ``reason``: a urllib3 error, CircuitOpenError, ServerError."""

    def __init__(self, service: str, reason: Exception) -> None:
        super().__init__(f"{service}: {reason!r}")
        self.service = service
        self.reason = reason


@dataclass(frozen=True)
class Rule:
    reason: type[Exception]
    status: int
    code: str
    message: str                     # formatted with the service name


# First match wins, so subclasses come before their bases (a refused connection,
# NewConnectionError, is a ConnectTimeoutError, itself a TimeoutError). A connect timeout or a
# refused connection means the request never left the gateway: 503, safe to retry. A read
# timeout may have been processed: 504. A connection dropped mid-answer: 503, as before.
# A downstream 503, and a 504 outcome_unknown, are not in the table: they pass through (see
# ``upstream_error_response``).
RULES: tuple[Rule, ...] = (
    Rule(CircuitOpenError, 503, "service_unavailable", "{service} is unavailable, retry later"),
    Rule(ConnectTimeoutError, 503, "service_unavailable", "{service} is unreachable"),
    Rule(UrllibTimeoutError, 504, "upstream_timeout", "{service} did not answer in time"),
    Rule(ProtocolError, 503, "service_unavailable", "{service} is unreachable"),
    Rule(ServerError, 502, "bad_gateway", "{service} failed to handle the request"),
    Rule(HTTPError, 502, "bad_gateway", "{service} sent an invalid response"),
)


# The one downstream 504 a client must see as it is: ticket-service's create that may still
# commit, to be retried with the same Idempotency-Key (any other 504 stays a 502, its body unseen).
OUTCOME_UNKNOWN = "outcome_unknown"


def _passes_through(response: "UpstreamResponse") -> bool:
    """A service's own 503 (say, its database is down: body and Retry-After kept), or its
    504 ``outcome_unknown``."""
    if response.status_code == 503:
        return True
    if response.status_code != 504:
        return False
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return False
    return isinstance(error, dict) and error.get("code") == OUTCOME_UNKNOWN


def answered_unavailable(response: "UpstreamResponse") -> bool:
    """The service's own prompt JSON 503 ``service_unavailable`` (its database is down, it
    sheds load): an answer from a live service, not a failure of the service itself, so the
    breaker must not count it (it would keep refusing after the database is back)."""
    if response.status_code != 503:
        return False
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return False
    return isinstance(error, dict) and error.get("code") == "service_unavailable"


def rule_for(reason: Exception) -> Rule:
    for rule in RULES:
        if isinstance(reason, rule.reason):
            return rule
    raise LookupError(f"no error rule for {type(reason).__name__}")


def upstream_error_response(exc: UpstreamFailure) -> Response:
    """The client's answer to a failed downstream call."""
    reason = exc.reason
    if isinstance(reason, ServerError) and _passes_through(reason.response):
        return passthrough(reason.response)
    rule = rule_for(reason)
    logger.warning("upstream %s failed: %r -> %s", exc.service, reason, rule.status)
    details: dict[str, object] = {"service": exc.service}
    if isinstance(reason, ServerError):
        details["status"] = reason.response.status_code
    resp = error_response(rule.status, rule.code, rule.message.format(service=exc.service), details)
    if isinstance(reason, CircuitOpenError):
        resp.headers["Retry-After"] = str(max(1, math.ceil(reason.retry_after_s)))
    return resp
