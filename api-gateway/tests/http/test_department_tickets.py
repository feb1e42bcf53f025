"""GET /api/departments/<name>/tickets: routing-service resolves the name, ticket-service lists."""

TICKETS = {"tickets": [{"id": 3, "title": "VPN"}], "count": 1, "next_cursor": "Y3Vy"}


def test_lists_the_tickets_of_the_canonical_department(services, client):
    routing, ticket = services["routing-service"], services["ticket-service"]
    routing.on("GET", "/api/departments/it support", 200, {"name": "IT Support", "active": True})
    ticket.on("GET", "/api/tickets", 200, TICKETS, headers={"ETag": '"list"'})

    resp = client.get("/api/departments/it%20support/tickets?limit=2&cursor=abc&status=pending"
                      "&department=HR&other=x", headers={"X-Request-ID": "dept-1"})

    assert resp.status_code == 200
    assert resp.json == TICKETS
    assert resp.headers["X-Request-ID"] == "dept-1"
    [lookup] = routing.calls
    assert lookup.raw_uri == "/api/departments/it%20support"
    [listing] = ticket.calls
    assert listing.path == "/api/tickets"
    assert listing.query == "department=IT+Support&limit=2&cursor=abc&status=pending"
    for call in (lookup, listing):
        assert call.headers["X-Request-Id"] == "dept-1"
        assert call.headers["X-Tenant-Id"] == "default"


def test_unknown_department_404_passes_through_and_lists_nothing(services, client):
    body = {"error": {"code": "not_found", "message": "department Nope not found", "details": None}}
    services["routing-service"].on("GET", "/api/departments/Nope", 404, body)

    resp = client.get("/api/departments/Nope/tickets")

    assert resp.status_code == 404
    assert resp.json == body
    assert not services["ticket-service"].calls


def test_ticket_service_errors_pass_through(services, client):
    services["routing-service"].on("GET", "/api/departments/HR", 200, {"name": "HR"})
    bad = {"error": {"code": "invalid_cursor", "message": "cursor is not one this API issued",
                     "details": None}}
    services["ticket-service"].on("GET", "/api/tickets", 400, bad)

    resp = client.get("/api/departments/HR/tickets?cursor=zzz")

    assert (resp.status_code, resp.json) == (400, bad)


def test_an_answer_without_a_name_is_a_bad_gateway(services, client):
    services["routing-service"].on("GET", "/api/departments/HR", 200, {"id": 1})

    resp = client.get("/api/departments/HR/tickets")

    assert resp.status_code == 502
    assert resp.json["error"]["code"] == "bad_gateway"
    assert not services["ticket-service"].calls


def test_routing_service_down_is_a_503(services, make_gateway, closed_port_url):
    client = make_gateway(routing_service_url=closed_port_url).test_client()

    resp = client.get("/api/departments/HR/tickets")

    assert resp.status_code == 503
    assert resp.json["error"]["details"] == {"service": "routing-service"}
    assert not services["ticket-service"].calls
