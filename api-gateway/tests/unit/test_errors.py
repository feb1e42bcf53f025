"""The one table from downstream failures to the gateway's answers."""
import pytest
from flask import Flask
from urllib3 import HTTPHeaderDict
from urllib3.exceptions import (ConnectTimeoutError, DecodeError, NewConnectionError,
                                ProtocolError, ReadTimeoutError)

from api_gateway.clients import UpstreamResponse

from api_gateway.errors import (CircuitOpenError, ServerError, UpstreamFailure, rule_for,
                                upstream_error_response)


def _response(status, body=b'{"error": {"code": "x"}}', headers=None):
    return UpstreamResponse(status, HTTPHeaderDict(
        {"Content-Type": "application/json", **(headers or {})}), body)


@pytest.mark.parametrize("reason,status,code", [
    (CircuitOpenError("routing-service", 3.2), 503, "service_unavailable"),
    (ConnectTimeoutError(), 503, "service_unavailable"),       # never sent: safe to retry
    (NewConnectionError(None, "refused"), 503, "service_unavailable"),
    (ReadTimeoutError(None, "/x", "read timed out"), 504, "upstream_timeout"),
    (ProtocolError("Connection aborted."), 503, "service_unavailable"),
    (ServerError(_response(500)), 502, "bad_gateway"),
    (DecodeError("bad gzip"), 502, "bad_gateway"),
])
def test_rules(reason, status, code):
    rule = rule_for(reason)
    assert (rule.status, rule.code) == (status, code)


def test_an_unmapped_failure_is_a_programming_error():
    with pytest.raises(LookupError):
        rule_for(ValueError("x"))


@pytest.fixture
def app_ctx():
    with Flask(__name__).app_context() as ctx:
        yield ctx


def test_open_circuit_answer_carries_retry_after(app_ctx):
    resp = upstream_error_response(UpstreamFailure("routing-service", CircuitOpenError("routing-service", 3.2)))

    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "4"
    assert resp.json == {"error": {"code": "service_unavailable",
                                   "message": "routing-service is unavailable, retry later",
                                   "details": {"service": "routing-service"}}}


def test_a_service_503_passes_through(app_ctx):
    upstream = _response(503, b'{"error": {"code": "service_unavailable"}}', {"Retry-After": "5"})

    resp = upstream_error_response(UpstreamFailure("ticket-service", ServerError(upstream)))

    assert resp.status_code == 503
    assert resp.get_data() == b'{"error": {"code": "service_unavailable"}}'
    assert resp.headers["Retry-After"] == "5"


def test_a_service_504_outcome_unknown_passes_through(app_ctx):
    body = (b'{"error": {"code": "outcome_unknown", "message": "the request timed out and '
            b'may still complete"}}')
    upstream = _response(504, body, {"Content-Type": "application/json"})

    resp = upstream_error_response(UpstreamFailure("ticket-service", ServerError(upstream)))

    assert resp.status_code == 504
    assert resp.json["error"]["code"] == "outcome_unknown"
    assert "Retry-After" not in resp.headers
