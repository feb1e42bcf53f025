"""The OpenAPI document: valid 3.1, every public path, shared models, errors; the docs page."""
import re

import pytest

from support_shared.schemas import Error, TicketCreate

from api_gateway.app import create_app
from api_gateway.openapi import REF
from api_gateway.openapi_ops import Op

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def app():
    app = create_app()                  # builds clients but connects to nothing
    yield app
    app.extensions["api_gateway"].close()


@pytest.fixture
def doc(app):
    resp = app.test_client().get("/openapi.json")
    assert resp.status_code == 200
    return resp.get_json()


def _resolve(doc, ref):
    node = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_document_is_valid_openapi_3_1(doc):
    validator = pytest.importorskip("openapi_spec_validator")
    assert doc["openapi"] == "3.1.0"
    validator.validate(doc)


def test_every_ref_resolves(doc):
    refs = set(_refs(doc))
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/")
        _resolve(doc, ref)


def test_every_public_route_is_documented_with_its_methods(app, doc):
    served = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            served[path] = {m.lower() for m in rule.methods - IGNORED_METHODS}
    documented = {path: set(item) for path, item in doc["paths"].items()}

    assert documented == served
    assert len(served) == 51


def test_bodies_and_responses_come_from_the_shared_models(doc):
    schemas = doc["components"]["schemas"]
    create = doc["paths"]["/api/tickets"]["post"]

    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TicketCreate"}
    assert schemas["TicketCreate"] == TicketCreate.model_json_schema(ref_template=REF)
    error = Error.model_json_schema(ref_template=REF)
    nested = error.pop("$defs")
    assert schemas["Error"] == error
    assert schemas["ErrorBody"] == nested["ErrorBody"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Ticket"}
    assert set(create["responses"]["201"]["headers"]) >= {"Location", "ETag", "X-Request-ID"}
    health = doc["paths"]["/api/health"]["get"]["responses"]
    assert health["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Health"}


def test_error_responses_use_the_error_schema(doc):
    for path, item in doc["paths"].items():
        if path == "/api/health":
            continue
        for method, op in item.items():
            for code in ("502", "503", "504"):
                assert code in op["responses"], (method, path, code)
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")):
                    content = _resolve(doc, response["$ref"])["content"]
                    assert content["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"}
            if "requestBody" in op:
                assert {"400", "413", "415"} <= set(op["responses"])


def test_query_parameters(doc):
    params = doc["components"]["parameters"]
    assert {"limit", "cursor", "status", "priority", "department", "days"} <= set(params)
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200,
                                         "default": 50}
    assert params["status"]["schema"]["enum"] == ["pending", "in_progress", "resolved", "closed",
                                                  "waiting"]

    def names(path, method="get"):
        return {p["$ref"].rsplit("/", 1)[1] for p in doc["paths"][path][method]["parameters"]
                if "$ref" in p}

    assert {"limit", "cursor", "status", "priority", "department"} <= names("/api/tickets")
    assert {"limit", "cursor", "status", "priority"} <= names("/api/departments/{name}/tickets")
    assert "days" in names("/api/analytics/trends")
    assert "IfMatch" in names("/api/tickets/{ticket_id}/status", "put")
    assert "IdempotencyKey" in names("/api/tickets", "post")


def test_docs_page_loads_only_local_assets(app):
    client = app.test_client()
    page = client.get("/docs")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<script>" not in html                                # no inline script to allow
    assert "://" not in html                                     # nothing from the internet
    assets = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', html)
    assert len(assets) == 6
    for asset in assets:
        resp = client.get(asset)
        assert resp.status_code == 200, asset
        assert len(resp.data) > 100
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert 'url: "/openapi.json"' in client.get("/docs/assets/init.js").get_data(as_text=True)
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/docs/assets/swagger-ui-bundle.js.map").status_code == 404
    assert client.get("/docs/assets/..%2fswagger-ui.js").status_code == 404


def test_security_schemes_and_per_operation_auth_responses(doc):
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer",
                                     "description": schemes["bearerAuth"]["description"]}
    assert (schemes["apiKeyHeader"]["in"], schemes["apiKeyHeader"]["name"]) == ("header",
                                                                               "X-API-Key")
    assert doc["security"] == [{"bearerAuth": []}, {"apiKeyHeader": []}]
    assert doc["paths"]["/api/health"]["get"]["security"] == []
    unauthorized = doc["components"]["responses"]["Unauthorized"]
    assert "WWW-Authenticate" in unauthorized["headers"]
    assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
        doc["components"]["responses"]["TooManyRequests"]["headers"])
    for path, item in doc["paths"].items():
        if path == "/api/health":
            continue
        for method, op in item.items():
            assert {"401", "403", "429"} <= set(op["responses"]), (method, path)
            operator = path in ("/api/dashboard/queues", "/api/admin/dlq") \
                or path.endswith("/purge")
            department_write = path.startswith(("/api/departments", "/api/settings",
                                                "/api/agents", "/api/sla")) and method != "get"
            erasure = path.endswith("/erase")
            # integration configuration: sources and webhook subscriptions (not inbound posts)
            config_write = (path.startswith(("/api/sources", "/api/webhooks"))
                            and not path.startswith("/api/webhooks/inbound/")
                            and method != "get")
            expected = ("operator" if operator else "admin"
                        if path.startswith("/api/admin/") or department_write or erasure
                        or config_write
                        else "read" if method == "get" else "write")
            assert op["x-required-scope"] == expected, (method, path)
            if operator:                                      # no tenant key opens these
                assert op["security"] == [{"operatorToken": []}], (method, path)
            elif path.startswith("/api/admin/"):              # tenant admins: their own only
                assert {"operatorToken": []} in op["security"] and "own" in op["description"]
            else:
                assert "security" not in op                   # the document-wide requirement
    assert doc["components"]["securitySchemes"]["operatorToken"] == {
        "type": "apiKey", "in": "header", "name": "X-Operator-Token",
        "description": doc["components"]["securitySchemes"]["operatorToken"]["description"]}


def test_new_operations_use_their_models_and_conflict_codes(doc):
    def body(path, method):
        return doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]

    def ok(path, method, status="200"):
        return doc["paths"][path][method]["responses"][status]["content"][
            "application/json"]["schema"]

    patch = doc["paths"]["/api/tickets/{ticket_id}"]["patch"]
    assert body("/api/tickets/{ticket_id}", "patch") == {"$ref": REF.format(model="TicketPatch")}
    assert {"404", "412", "400"} <= set(patch["responses"])
    assert {"$ref": "#/components/parameters/IfMatch"} in patch["parameters"]
    assert doc["components"]["schemas"]["TicketPatch"]["minProperties"] == 1
    assert {"409", "422"} <= set(doc["paths"]["/api/tickets"]["post"]["responses"])
    assert ok("/api/tickets/{ticket_id}/comments", "post", "201") == {
        "$ref": REF.format(model="Comment")}
    assert ok("/api/tickets/{ticket_id}/comments", "get") == {
        "$ref": REF.format(model="CommentList")}
    assert ok("/api/tickets/{ticket_id}/history", "get") == {
        "$ref": REF.format(model="TicketHistory")}
    assert ok("/api/users", "get") == {"$ref": REF.format(model="UserList")}
    assert "409" in doc["paths"]["/api/users"]["post"]["responses"]
    params = doc["components"]["parameters"]
    assert {"q", "tag", "requester_id", "email"} <= set(params)
    assert params["q"]["schema"] == {"type": "string", "minLength": 1, "maxLength": 200}
    ticket = doc["components"]["schemas"]["Ticket"]
    assert {"tags", "requester_id"} <= set(ticket["required"])


def _untyped(doc, schema, path="", seen=frozenset()):
    """Where under ``schema`` an object has no properties or an array no typed items."""
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return
        seen = seen | {schema["$ref"]}
        schema = _resolve(doc, schema["$ref"])
    for key in ("anyOf", "oneOf", "allOf"):
        for n, branch in enumerate(schema.get(key, ())):
            yield from _untyped(doc, branch, f"{path}/{key}[{n}]", seen)
    if schema.get("type") == "array":
        items = schema.get("items")
        if not isinstance(items, dict) or not ({"type", "$ref", "anyOf", "oneOf"} & set(items)):
            yield f"{path or '/'}: array without typed items"
        else:
            yield from _untyped(doc, items, f"{path}[]", seen)
    for name, prop in schema.get("properties", {}).items():
        yield from _untyped(doc, prop, f"{path}/{name}", seen)


def _success_schemas(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for code, response in op["responses"].items():
                if code.startswith("2") and code != "204":
                    # a streamed export: its JSON Lines record (the first content type)
                    content = response["content"].get("application/json") or next(
                        iter(response["content"].values()))
                    yield f"{method} {path} {code}", content["schema"]


def test_every_success_response_is_a_typed_model(doc):
    schemas = dict(_success_schemas(doc))
    assert len(schemas) == 66                             # every operation, health included

    for where, schema in schemas.items():
        top = _resolve(doc, schema["$ref"]) if "$ref" in schema else schema
        branches = top.get("anyOf") or top.get("oneOf") or [top]
        for branch in branches:
            model = _resolve(doc, branch["$ref"]) if "$ref" in branch else branch
            assert model.get("type") == "object" and model.get("properties"), (where, model)
            assert model.get("required"), (where, model)
        assert list(_untyped(doc, schema)) == [], where


def test_delete_ticket_answers_204_without_a_body_and_needs_the_write_scope(doc):
    delete = doc["paths"]["/api/tickets/{ticket_id}"]["delete"]
    assert "content" not in delete["responses"]["204"]
    assert {"404", "412"} <= set(delete["responses"]) and delete["x-required-scope"] == "write"
    assert {"$ref": "#/components/parameters/IfMatch"} in delete["parameters"]
    with pytest.raises(ValueError):
        Op("delete", "/x", "x", "x", "x", response=None)        # None only with 204


def test_the_untyped_check_can_fail():
    doc = {"components": {"schemas": {"Bare": {"type": "object", "properties": {
        "items": {"type": "array"}, "free": {"type": "array", "items": {}}}}}}}

    found = list(_untyped(doc, {"$ref": "#/components/schemas/Bare"}))

    assert found == ["/items: array without typed items", "/free: array without typed items"]


def test_operations_answer_their_services_models(doc):
    def ok(path, method="get", status="200"):
        return doc["paths"][path][method]["responses"][status]["content"]["application/json"][
            "schema"]["$ref"].rsplit("/", 1)[1]

    assert ok("/api/departments") == "DepartmentList"
    assert ok("/api/departments", "post", "201") == "Department"
    assert ok("/api/departments/{name}", "patch") == "Department"
    assert ok("/api/tickets/{ticket_id}/triage", "post") == "RouteResult"
    assert ok("/api/route", "post") == ok("/api/route/{ticket_id}", "put") == "RouteResult"
    assert ok("/api/routing/history/{ticket_id}") == "RoutingHistory"
    assert ok("/api/dashboard/queues") == "QueueDepths"
    assert ok("/api/admin/dlq/{queue}") == "DeadMessageList"
    assert ok("/api/admin/dlq/{queue}/purge", "post") == "PurgeResult"
    schemas = doc["components"]["schemas"]
    assert schemas["EventCounts"]["required"][:4] == ["ticket.created", "ticket.categorized",
                                                      "ticket.routed", "ticket.status.updated"]
    assert {"ticket.updated", "ticket.deleted"} <= set(schemas["EventCounts"]["required"])
    queues = [b["$ref"].rsplit("/", 1)[1] for b in schemas["QueueDepths"]["anyOf"]]
    assert queues == ["QueuePanel", "QueuePanelUnavailable"]


def test_every_query_parameter_an_operation_takes_is_documented(doc):
    params = doc["components"]["parameters"]

    def query(path, method="get"):
        refs = [p["$ref"] for p in doc["paths"][path][method]["parameters"] if "$ref" in p]
        return {_resolve(doc, r)["name"]: _resolve(doc, r)["schema"] for r in refs
                if _resolve(doc, r)["in"] == "query"}

    shown = query("/api/admin/dlq/{queue}")
    assert shown == {"limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10},
                     "body": {"type": "boolean", "default": False}}
    assert set(query("/api/tickets/{ticket_id}/comments")) == {"limit", "cursor", "view"}
    assert set(query("/api/users")) == {"limit", "cursor", "email"}
    assert set(query("/api/tickets")) == {"limit", "cursor", "status", "priority", "department",
                                          "q", "tag", "requester_id", "ai_status", "sentiment",
                                          "requires_action"}
    for param in params.values():
        assert param["description"] and "description" not in param["schema"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            names = [_resolve(doc, p["$ref"])["name"] if "$ref" in p else p["name"]
                     for p in op["parameters"]]
            assert len(names) == len(set(names)), (method, path)
