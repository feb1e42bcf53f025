"""The OpenAPI 3.1 document of the public API, built from the shared pydantic models."""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from support_shared.schemas import Error, Health, Ticket

from .auth import required_scope
from .operator import OPERATOR_HEADER, OPERATOR_PREFIX, OPERATOR_SCOPE, operator_only
from .openapi_ops import (AUTH_ERRORS, BODY_ERRORS, ERRORS, OPERATIONS, PARAM_DOCS, PATH_PARAMS,
                          QUERY_PARAMS, SPECIFIC_ERRORS, UPSTREAM_ERRORS, Op)

REF = "#/components/schemas/{model}"
JSON = "application/json"
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "An API key: Authorization: Bearer tts_<prefix>_<secret>"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "The same API key in the X-API-Key header"},
    "operatorToken": {"type": "apiKey", "in": "header", "name": OPERATOR_HEADER,
                      "description": "The suite operator's credential (GATEWAY_OPERATOR_TOKEN "
                                     "on the gateway); no tenant API key can stand in for it"},
}
SECURITY = [{"bearerAuth": []}, {"apiKeyHeader": []}]
OPERATOR_SECURITY = [{"operatorToken": []}]
DESCRIPTION = (
    "Create, categorize, route and analyze support tickets. Every /api path except /api/health "
    "needs an API key of a tenant (Authorization: Bearer <key> or X-API-Key): reads need the "
    "read scope, writes the write scope (a write key may read too). Suite-wide operations "
    "(every dead-letter queue, queue depths, purges) need the operator credential in "
    "X-Operator-Token instead, which no tenant key can hold; a tenant admin key sees and "
    "replays only its own tenant's dead letters. Errors are {\"error\": {\"code\", \"message\", "
    "\"details\"}}. Lists are keyset-paginated (limit, cursor -> next_cursor). Single tickets "
    "carry an ETag; send it back in If-Match to refuse stale writes (412).")


def _schemas() -> tuple[dict[str, Any], dict[tuple[type[BaseModel], str], Any]]:
    inputs = {op.body for op in OPERATIONS if op.body}
    outputs = {op.response for op in OPERATIONS if op.response} | {Error, Health}
    pairs: list[tuple[type[BaseModel], JsonSchemaMode]] = (
        [(m, "validation") for m in sorted(inputs, key=lambda m: m.__name__)]
        + [(m, "serialization") for m in sorted(outputs, key=lambda m: m.__name__)])
    refs, top = models_json_schema(pairs, ref_template=REF)
    return top.get("$defs", {}), {(m, mode): ref for (m, mode), ref in refs.items()}


def _param_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string, never JSON null: drop pydantic's null branch."""
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        out = dict(options[0])
    else:
        out = {k: v for k, v in schema.items() if k != "anyOf"}
    if schema.get("default") is not None:
        out["default"] = schema["default"]
    out.pop("title", None)
    out.pop("description", None)            # the parameter's own description says it
    return out


def _query_parameter(key: str) -> dict[str, Any]:
    model, field = QUERY_PARAMS[key]
    schema = model.model_json_schema(mode="validation")["properties"][field]
    return {"name": field, "in": "query", "required": False, "description": PARAM_DOCS[key],
            "schema": _param_schema(schema)}


def _components_parameters() -> dict[str, Any]:
    params = {key: _query_parameter(key) for key in QUERY_PARAMS}
    params["IfMatch"] = {"name": "If-Match", "in": "header", "required": False,
                         "description": "ETag from the last read: refuse (412) if it changed",
                         "schema": {"type": "string"}}
    params["IdempotencyKey"] = {"name": "Idempotency-Key", "in": "header", "required": False,
                                "description": "Repeat a create safely: the same key with the "
                                               "same body answers the first create again "
                                               "(Idempotent-Replayed); with another body 422 "
                                               "idempotency_key_reused (at most 200 "
                                               "characters). Only this header makes a request "
                                               "idempotent",
                                "schema": {"type": "string", "maxLength": 200}}
    params["Prefer"] = {"name": "Prefer", "in": "header", "required": False,
                        "description": "wait=N (RFC 7240, N <= 10 seconds): answer once the "
                                       "ticket is routed (with its department and "
                                       "Preference-Applied: wait=N), or after N seconds with "
                                       "the pending ticket and no Preference-Applied",
                        "schema": {"type": "string", "example": "wait=5"}}
    params["RequestId"] = {"name": "X-Request-ID", "in": "header", "required": False,
                           "description": "A trace id only: your id for this request, kept when "
                                          "it is 1-128 of [A-Za-z0-9._-] (else one is "
                                          "generated), echoed and logged; it never makes a "
                                          "request idempotent (use Idempotency-Key)",
                           "schema": {"type": "string"}}
    return params


def _headers() -> dict[str, Any]:
    def header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"description": description, "schema": schema or {"type": "string"}}

    integer = {"type": "integer"}
    return {
        "X-Request-ID": header("The request's trace id, as sent or generated"),
        "ETag": header("Version of the returned resource, for If-Match"),
        "Location": header("Path of the created resource"),
        "Idempotent-Replayed": header("true when this answer repeats an earlier create"),
        "Retry-After": header("Seconds to wait before retrying", integer),
        "WWW-Authenticate": header("The authentication scheme: Bearer"),
        "RateLimit-Limit": header("Requests allowed per window for this API key", integer),
        "RateLimit-Remaining": header("Requests left in the current window", integer),
        "RateLimit-Reset": header("Unix time at which the window frees up", integer),
        "Preference-Applied": header("wait=N when the create waited until the ticket was "
                                     "routed (Prefer: wait=N)"),
    }


def _response(description: str, schema: dict[str, Any] | None,
              headers: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "headers": {
        h: {"$ref": f"#/components/headers/{h}"} for h in ("X-Request-ID", *headers)}}
    if schema is not None:
        out["content"] = {JSON: {"schema": schema}}
    return out


_ERROR_HEADERS = {401: ("WWW-Authenticate",), 503: ("Retry-After",),
                  429: ("Retry-After", "RateLimit-Limit", "RateLimit-Remaining",
                        "RateLimit-Reset")}


def _error_responses() -> dict[str, Any]:
    error_ref = {"$ref": REF.format(model="Error")}
    shared = {name: _response(text, error_ref, _ERROR_HEADERS.get(status, ()))
              for status, (name, text) in ERRORS.items()}
    return {**shared, **{name: _response(text, error_ref)
                         for name, text in SPECIFIC_ERRORS.items()}}


def _success_headers(op: Op) -> tuple[str, ...]:
    if op.status == 201:
        return ("Location", "ETag", "Idempotent-Replayed", "Preference-Applied") \
            if op.response is Ticket else ("Location",)
    return ("ETag",) if op.response is Ticket else ()


# What a created resource's id opens up (OpenAPI links; clients and fuzzers follow them).
LINKS: dict[str, tuple[tuple[str, str], ...]] = {
    "createTicket": tuple((op_id, "ticket_id") for op_id in (
        "getTicket", "updateTicket", "deleteTicket", "updateTicketStatus", "listComments",
        "addComment",
        "ticketHistory", "rerouteTicket", "routingHistory")),
    "createUser": (("getUser", "user_id"),),
}


def _links(op: Op) -> dict[str, Any]:
    return {f"{target}": {"operationId": target, "parameters": {param: "$response.body#/id"}}
            for target, param in LINKS.get(op.operation_id, ())}


def _parameters(op: Op) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": PATH_PARAMS[p]}
        for p in re.findall(r"{(\w+)}", op.path)]
    return params + [{"$ref": f"#/components/parameters/{name}"}
                     for name in (*op.query, "RequestId", *op.headers)]


def _operation(op: Op, refs: dict[tuple[type[BaseModel], str], Any]) -> dict[str, Any]:
    schema = refs[(op.response, "serialization")] if op.response else None
    responses: dict[str, Any] = {
        str(op.status): _response("Success" if schema else "Done (no content)", schema,
                                  _success_headers(op))}
    if op.stream:
        responses[str(op.status)]["content"] = {
            "application/x-ndjson": {"schema": schema},
            "text/csv": {"schema": {"type": "string", "description": "A header row, then a "
                                    "row a ticket (tags joined by ;), its cursor last"}}}
    if links := _links(op):
        responses[str(op.status)]["links"] = links
    # 400 everywhere: the gateway refuses NUL characters in any path or query string.
    codes = sorted({400, *op.errors, *(BODY_ERRORS if op.body else ()), *AUTH_ERRORS,
                    *UPSTREAM_ERRORS})
    specific = dict(op.specific)
    for code in codes:
        name = specific.get(code, ERRORS[code][0])
        responses[str(code)] = {"$ref": f"#/components/responses/{name}"}
    scope, description, security = _access(op)
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary,
                           "description": description, "tags": [op.tag],
                           "parameters": _parameters(op), "responses": responses,
                           "x-required-scope": scope}
    if security is not None:
        out["security"] = security
    if op.body is not None:
        out["requestBody"] = {"required": op.body_required,
                              "content": {JSON: {"schema": refs[(op.body, "validation")]}}}
    return out


def _access(op: Op) -> tuple[str, str, list[dict[str, list[str]]] | None]:
    """The operation's scope, what its description says about it, and its own security."""
    path = op.path.replace("{queue}", "q")
    if operator_only(path):
        return (OPERATOR_SCOPE, f"Suite operators only: send `{OPERATOR_HEADER}`; every tenant "
                "key gets 403 operator_required.", OPERATOR_SECURITY)
    scope = required_scope(op.method, op.path)
    if path.startswith(OPERATOR_PREFIX):
        return (scope, f"The operator (`{OPERATOR_HEADER}`) sees every tenant's messages; an "
                f"API key with the `{scope}` scope only its own tenant's.",
                [*SECURITY, *OPERATOR_SECURITY])
    return scope, f"Needs an API key with the `{scope}` scope.", None


def _health_operation(refs: dict[tuple[type[BaseModel], str], Any]) -> dict[str, Any]:
    schema = refs[(Health, "serialization")]
    return {
        "operationId": "health", "tags": ["gateway"],
        "summary": "Health of every service, PostgreSQL and RabbitMQ (no API key needed)",
        "security": [],
        "parameters": [{"$ref": "#/components/parameters/RequestId"}],
        "responses": {"200": _response("Everything is ok", schema),
                      "503": _response("Something is down", schema),
                      "429": {"$ref": "#/components/responses/TooManyRequests"}},
    }


def build_document(version: str = "0.2.0") -> dict[str, Any]:
    """The whole public API: one path item per /api path, errors as shared responses."""
    schemas, refs = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs)
    paths["/api/health"] = {"get": _health_operation(refs)}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ticket Triage Suite API", "version": version,
                 "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": SECURITY,
        "tags": [{"name": t} for t in ("tickets", "users", "ai", "routing", "analytics",
                                       "gateway", "agents", "sla")],
        "paths": paths,
        "components": {"schemas": schemas, "parameters": _components_parameters(),
                       "headers": _headers(), "responses": _error_responses(),
                       "securitySchemes": SECURITY_SCHEMES},
    }
