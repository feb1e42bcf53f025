"""The AI-decision routes: the categorization path, the settings scope, Prefer: wait."""
from ..conftest import READ_KEY


def test_a_ticket_s_categorization_is_the_ai_service_s_stored_one(services, client):
    ai = services["ai-categorization-service"]
    ai.on("GET", "/api/categorizations/42", 200, {"ticket_id": 42})
    resp = client.get("/api/tickets/42/categorization")
    assert resp.status_code == 200 and resp.json == {"ticket_id": 42}
    [call] = ai.calls
    assert call.path == "/api/categorizations/42"
    assert call.headers["X-Tenant-Id"] == "default"           # the AI service checks the tenant
    assert not services["ticket-service"].calls


def test_settings_are_read_with_read_scope_and_set_with_admin(services, make_gateway):
    ticket = services["ticket-service"]
    ticket.on("GET", "/api/settings", 200, {"ai_priority": "suggest"})
    ticket.on("PUT", "/api/settings", 200, {"ai_priority": "apply"})
    reader = make_gateway(READ_KEY).test_client()
    assert reader.get("/api/settings").json == {"ai_priority": "suggest"}
    refused = reader.put("/api/settings", json={"ai_priority": "apply"})
    assert refused.status_code == 403 and refused.json["error"]["details"] == {
        "required_scope": "admin"}
    admin = make_gateway().test_client()
    assert admin.put("/api/settings", json={"ai_priority": "apply"}).status_code == 200
    assert [c.method for c in ticket.calls] == ["GET", "PUT"]


def test_prefer_goes_down_preference_applied_comes_back_and_the_wait_is_allowed(services,
                                                                                 client):
    ticket = services["ticket-service"]
    ticket.on("POST", "/api/tickets", 201, {"id": 1}, delay=1.0,
              headers={"Preference-Applied": "wait=2", "Vary": "Prefer"})
    resp = client.post("/api/tickets", json={}, headers={"Prefer": "wait=2"})
    assert resp.status_code == 201                  # longer than the 0.5 s read timeout
    assert resp.headers["Preference-Applied"] == "wait=2"
    assert ticket.calls[0].headers["Prefer"] == "wait=2"


def test_without_prefer_the_usual_read_timeout_holds(services, client):
    services["ticket-service"].on("POST", "/api/tickets", 201, {"id": 1}, delay=1.0)
    resp = client.post("/api/tickets", json={})
    assert resp.status_code == 504
