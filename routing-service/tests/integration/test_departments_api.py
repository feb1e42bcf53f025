"""Departments and triage through routing-service's HTTP API on the real database."""
import pytest

pytestmark = pytest.mark.integration

ACME = {"X-Tenant-ID": "acme"}
LEGAL = {"name": "Legal", "description": "contracts", "keywords": ["NDA", " nda ", "GDPR"],
         "min_confidence": 0.4}


def _error(resp, status, code):
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["error"]["code"] == code


def _outbox(query):
    return query("SELECT routing_key, payload FROM outbox ORDER BY id")


def test_create_get_and_the_event_in_the_outbox(client, query):
    resp = client.post("/api/departments", json=LEGAL, headers=ACME)
    assert resp.status_code == 201, resp.get_json()
    assert resp.headers["Location"] == "/api/departments/Legal"
    body = resp.get_json()
    assert body == {"name": "Legal", "description": "contracts", "keywords": ["NDA", "GDPR"],
                    "min_confidence": 0.4, "is_triage": False, "active": True, "version": 1,
                    "assignment_policy": "manual", "ticket_count": 0}
    assert client.get("/api/departments/legal", headers=ACME).get_json() == body
    [(key, payload)] = _outbox(query)
    assert key == "department.changed"
    assert payload["ticket_id"] is None and payload["tenant_id"] == "acme"
    assert payload["data"]["keywords"] == ["NDA", "GDPR"] and payload["data"]["change"] == "created"


def test_other_tenants_do_not_see_it(client):
    assert client.post("/api/departments", json=LEGAL, headers=ACME).status_code == 201
    _error(client.get("/api/departments/Legal"), 404, "department_not_found")
    _error(client.patch("/api/departments/Legal", json={"active": False}), 404,
           "department_not_found")
    names = [d["name"] for d in client.get("/api/departments").get_json()["departments"]]
    assert "Legal" not in names


@pytest.mark.parametrize("body", [
    {}, {"name": ""}, {"name": "X", "min_confidence": 2}, {"name": "X", "keywords": "nda"},
    {"name": "X", "is_triage": True}, {"name": "A\u202eB"}, {"name": "X", "active": None},
    {"name": "X", "active": 0}, {"name": "X", "keywords": [1]},
    {"name": "X", "min_confidence": False},
])
def test_bad_creates_are_400(client, body):
    _error(client.post("/api/departments", json=body), 400, "validation_error")


def test_duplicate_names_are_409_in_any_case(client):
    _error(client.post("/api/departments", json={"name": "it support"}), 409,
           "department_exists")


def test_idempotency_key_replays_the_create(client, query):
    headers = {**ACME, "Idempotency-Key": "dep-1"}
    first = client.post("/api/departments", json=LEGAL, headers=headers)
    again = client.post("/api/departments", json=LEGAL, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    _error(client.post("/api/departments", json={"name": "Other"}, headers=headers), 422,
           "idempotency_key_reused")
    assert len(_outbox(query)) == 1


def test_patch_edits_and_deactivates(client, query):
    client.post("/api/departments", json=LEGAL, headers=ACME)
    resp = client.patch("/api/departments/legal", json={"keywords": ["lawsuit"]}, headers=ACME)
    assert resp.status_code == 200
    assert resp.get_json()["keywords"] == ["lawsuit"] and resp.get_json()["version"] == 2
    resp = client.patch("/api/departments/Legal", json={"active": False}, headers=ACME)
    assert resp.get_json()["active"] is False and resp.get_json()["version"] == 3
    assert [p["data"]["version"] for _, p in _outbox(query)] == [1, 2, 3]
    _error(client.patch("/api/departments/Legal", json={}, headers=ACME), 400,
           "validation_error")
    _error(client.patch("/api/departments/Legal", json={"name": "Law"}, headers=ACME), 400,
           "validation_error")
    _error(client.patch("/api/departments/General", json={"active": False}), 409,
           "triage_department_required")


def test_list_pages(client):
    for i in range(3):
        client.post("/api/departments", json={"name": f"Team {i}"})
    first = client.get("/api/departments?limit=6").get_json()
    assert len(first["departments"]) == 6 and first["next_cursor"]
    rest = client.get(f"/api/departments?limit=6&cursor={first['next_cursor']}").get_json()
    assert [d["name"] for d in rest["departments"]] == ["Team 1", "Team 2"]
    assert rest["next_cursor"] is None
    _error(client.get("/api/departments?cursor=nonsense"), 400, "invalid_cursor")
    _error(client.get("/api/departments?limit=0"), 400, "validation_error")


def test_routing_uses_a_new_department_at_once(client, apply, events):
    client.post("/api/departments", json=LEGAL)
    apply(events.created(7))
    apply(events.categorized(7, "Legal", 0.45))
    history = client.get("/api/routing/history/7").get_json()
    assert (history["current_department"], history["needs_review"]) == ("Legal", False)


def test_triage_confirm_and_reroute(client, apply, events, query):
    apply(events.created(8))
    apply(events.categorized(8, "Unknown", 0.9))
    assert client.get("/api/routing/history/8").get_json()["needs_review"] is True
    resp = client.post("/api/tickets/8/triage", json={"action": "confirm"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["department"], body["needs_review"], body["changed"]) == ("General", False,
                                                                          True)
    assert client.get("/api/routing/history/8").get_json()["needs_review"] is False
    resp = client.post("/api/tickets/8/triage", json={"action": "reroute", "department": "HR"})
    assert resp.get_json()["department"] == "HR" and resp.get_json()["method"] == "reroute"
    methods = [p["data"]["method"] for k, p in _outbox(query) if k.startswith("ticket.routed")]
    assert methods == ["auto", "manual", "reroute"]


def test_triage_errors(client, apply, events):
    apply(events.categorized(9, "HR"))
    _error(client.post("/api/tickets/9/triage", json={"action": "reroute"}), 400,
           "validation_error")
    _error(client.post("/api/tickets/9/triage", json={"action": "close"}), 400,
           "validation_error")
    _error(client.post("/api/tickets/9/triage", json={"action": "confirm",
                                                     "department": "Finance"}), 409,
           "triage_conflict")
    _error(client.post("/api/tickets/9/triage", json={"action": "reroute",
                                                     "department": "Nope"}), 404,
           "department_not_found")
    _error(client.post("/api/tickets/99/triage", json={"action": "confirm"}), 404,
           "ticket_not_found")
    _error(client.post("/api/tickets/9/triage", json={"action": "confirm"}, headers=ACME), 404,
           "ticket_not_found")
