"""The HTTP API through the Flask test client on the real database."""
import pytest

from routing_service.handlers import handle_tickets_deleted
from routing_service.testing import deleted

pytestmark = pytest.mark.integration

ACME = {"X-Tenant-ID": "acme"}


def _error(resp, status, code):
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["error"]["code"] == code


def test_departments_list_with_ticket_counts(client, apply, events):
    apply(events.categorized(1, "HR"))
    apply(events.categorized(2, "hr", 0.8))
    apply(events.categorized(3, "Legal"))
    resp = client.get("/api/departments")
    assert resp.status_code == 200
    departments = resp.get_json()["departments"]
    assert [d["name"] for d in departments] == ["IT Support", "HR", "Facilities", "Finance",
                                                "General"]
    counts = {d["name"]: d["ticket_count"] for d in departments}
    assert counts == {"IT Support": 0, "HR": 2, "Facilities": 0, "Finance": 0, "General": 1}
    assert departments[-1] == {"name": "General", "description": "everything else",
                               "min_confidence": 0.0, "is_triage": True, "active": True,
                               "keywords": [], "version": 1, "assignment_policy": "manual",
                               "ticket_count": 1}
    assert resp.get_json()["next_cursor"] is None


def test_one_department_by_name_ignoring_case(client):
    resp = client.get("/api/departments/it%20support")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["name"] == "IT Support" and body["min_confidence"] == 0.5
    _error(client.get("/api/departments/Legal"), 404, "department_not_found")


def test_route_and_reroute_record_history_and_events(client, apply, events, query):
    apply(events.created(5, version=1))
    apply(events.categorized(5, "IT Support", 0.31, version=2))      # -> General, review
    resp = client.post("/api/route", json={"ticket_id": 5, "department": "facilities"},
                       headers={"X-Request-ID": "req-route"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert {k: body[k] for k in ("ticket_id", "department", "previous_department", "method",
                                 "routing_version", "needs_review", "changed")} == {
        "ticket_id": 5, "department": "Facilities", "previous_department": "General",
        "method": "manual", "routing_version": 2, "needs_review": False, "changed": True}
    assert body["routed_at"].endswith("+00:00")

    resp = client.put("/api/route/5", json={"department": "Finance"})
    assert resp.status_code == 200
    assert (resp.get_json()["method"], resp.get_json()["previous_department"]) == (
        "reroute", "Facilities")

    outbox = query("SELECT payload, headers FROM outbox ORDER BY id")
    assert [p["data"]["method"] for p, _h in outbox] == ["auto", "manual", "reroute"]
    manual, headers = outbox[1]
    assert manual["ticket_version"] == 2 and manual["correlation_id"] == "req-route"
    assert headers == {"x-request-id": "req-route", "x-tenant-id": "default"}
    assert manual["data"]["routing_version"] == 2


def test_route_to_the_current_department_changes_nothing(client, apply, events, query):
    apply(events.categorized(6, "HR"))
    resp = client.post("/api/route", json={"ticket_id": 6, "department": "HR"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["changed"] is False and body["routing_version"] == 1
    assert query("SELECT count(*) FROM routing_history") == [(1,)]
    assert query("SELECT count(*) FROM outbox") == [(1,)]


def test_route_errors(client, apply, events, query):
    _error(client.post("/api/route", json={"ticket_id": 77, "department": "HR"}), 404,
           "ticket_not_found")
    _error(client.put("/api/route/77", json={"department": "HR"}), 404, "ticket_not_found")
    _error(client.put(f"/api/route/{2**63}", json={"department": "HR"}), 404,
           "not_found")
    apply(events.created(7))
    _error(client.post("/api/route", json={"ticket_id": 7, "department": "Legal"}), 404,
           "department_not_found")
    query("UPDATE departments SET active = false WHERE name = 'Finance'")
    _error(client.put("/api/route/7", json={"department": "finance"}), 404,
           "department_not_found")
    _error(client.post("/api/route", json={"ticket_id": 7}), 400, "validation_error")
    _error(client.post("/api/route", json={"ticket_id": 0, "department": "HR"}), 400,
           "validation_error")
    _error(client.post("/api/route", json={"ticket_id": 7, "department": "HR", "x": 1}), 400,
           "validation_error")
    _error(client.post("/api/route", data="{", content_type="application/json"), 400,
           "malformed_json")
    _error(client.post("/api/route", data="ticket_id=7"), 415, "unsupported_media_type")
    _error(client.put("/api/route/abc", json={"department": "HR"}), 404, "not_found")
    assert query("SELECT count(*) FROM routing_history") == [(0,)]


def test_history_oldest_first(client, apply, events):
    apply(events.created(8))
    apply(events.categorized(8, "Legal", 0.7))
    client.post("/api/route", json={"ticket_id": 8, "department": "HR"})
    client.put("/api/route/8", json={"department": "IT Support"})
    resp = client.get("/api/routing/history/8")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["ticket_id"] == 8 and body["current_department"] == "IT Support"
    history = body["history"]
    assert [(h["method"], h["department"], h["previous_department"]) for h in history] == [
        ("auto", "General", None), ("manual", "HR", "General"),
        ("reroute", "IT Support", "HR")]
    assert history[0]["reason"] == "unknown department Legal"
    assert history[0]["needs_review"] is True and history[0]["confidence"] == 0.7
    assert [h["routing_version"] for h in history] == [1, 2, 3]
    _error(client.get("/api/routing/history/999"), 404, "ticket_not_found")


def test_history_of_a_ticket_not_routed_yet_is_empty(client, apply, events):
    apply(events.created(9))
    body = client.get("/api/routing/history/9").get_json()
    assert body["current_department"] is None and body["history"] == []


def test_statistics(client, apply, events):
    empty = client.get("/api/routing/statistics").get_json()
    assert empty == {"total_routed": 0, "by_department": {},
                     "by_method": {"auto": 0, "manual": 0, "reroute": 0}, "needs_review": 0,
                     "average_confidence": None}
    apply(events.created(10))                                  # created only: not routed
    apply(events.categorized(11, "HR", 0.8))
    apply(events.categorized(12, "HR", 0.6))
    apply(events.categorized(13, "Finance", 0.2))              # -> General, needs review
    client.post("/api/route", json={"ticket_id": 12, "department": "Facilities"})
    stats = client.get("/api/routing/statistics").get_json()
    assert stats["total_routed"] == 3
    assert stats["by_department"] == {"Facilities": 1, "General": 1, "HR": 1}
    assert stats["by_method"] == {"auto": 3, "manual": 1, "reroute": 0}
    assert stats["needs_review"] == 1
    assert stats["average_confidence"] == pytest.approx(0.5)  # manual routing has none


def test_tenants_are_isolated(client, apply, events, query):
    apply(events.categorized(1, "HR", tenant="acme"))
    assert query("SELECT count(*) FROM departments WHERE tenant_id = 'acme'") == [(5,)]
    _error(client.get("/api/routing/history/1"), 404, "ticket_not_found")
    _error(client.post("/api/route", json={"ticket_id": 1, "department": "HR"}), 404,
           "ticket_not_found")
    assert client.get("/api/routing/statistics").get_json()["total_routed"] == 0
    acme = client.get("/api/routing/statistics", headers=ACME).get_json()
    assert acme["by_department"] == {"HR": 1}
    query("UPDATE departments SET active = false WHERE tenant_id = 'acme' AND name = 'IT Support'")
    assert client.get("/api/departments/IT%20Support").get_json()["active"] is True
    resp = client.put("/api/route/1", json={"department": "Finance"}, headers=ACME)
    assert resp.status_code == 200
    assert query("SELECT DISTINCT tenant_id FROM routing_history") == [("acme",)]


def test_unseen_tenant_gets_default_departments_on_first_request(client, query):
    resp = client.get("/api/departments", headers={"X-Tenant-ID": "newco"})
    assert len(resp.get_json()["departments"]) == 5
    client.get("/api/departments", headers={"X-Tenant-ID": "newco"})
    assert query("SELECT count(*) FROM departments WHERE tenant_id = 'newco'") == [(5,)]


def test_health(client):
    resp = client.get("/health")
    assert resp.status_code == 200
    assert resp.get_json()["checks"] == {"database": "ok", "rabbitmq": "ok"}


def test_a_closed_ticket_refuses_manual_routing_until_reopened(client, apply, query):
    from routing_service.testing import categorized, created, status_updated

    apply(created(9))
    apply(categorized(9, "HR"))
    apply(status_updated(9, version=4))
    _error(client.put("/api/route/9", json={"department": "Finance"}), 409, "ticket_closed")
    _error(client.post("/api/route", json={"ticket_id": 9, "department": "Finance"}), 409,
           "ticket_closed")
    apply(status_updated(9, version=3))                              # stale: ignored
    apply(status_updated(9, new_status="in_progress", old_status="closed", version=5))
    apply(status_updated(9, version=4))                              # redelivered old close
    assert query("SELECT closed, status_version FROM routed_tickets WHERE ticket_id = 9") \
        == [(False, 5)]
    assert client.put("/api/route/9", json={"department": "Finance"}).status_code == 200


@pytest.mark.parametrize("ticket_id", ["8157", True, 1.0, "１"])
def test_a_body_ticket_id_is_a_json_integer(client, ticket_id):
    _error(client.post("/api/route", json={"ticket_id": ticket_id, "department": "HR"}), 400,
           "validation_error")


def test_full_width_digits_in_a_path_are_not_an_id(client, apply):
    from routing_service.testing import categorized

    apply(categorized(1, "HR"))
    assert client.get("/api/routing/history/1").status_code == 200
    _error(client.get("/api/routing/history/１"), 404, "not_found")
    _error(client.put("/api/route/１", json={"department": "HR"}), 404, "not_found")


def test_a_deleted_ticket_leaves_history_counts_statistics_and_manual_routing(
        client, apply, events, new_uow):
    apply(events.categorized(1, "HR"))
    apply(events.categorized(2, "HR", 0.8))
    handle_tickets_deleted([deleted(1), deleted(1)], uow=new_uow())

    _error(client.get("/api/routing/history/1"), 404, "ticket_not_found")
    assert client.get("/api/routing/history/2").status_code == 200
    counts = {d["name"]: d["ticket_count"] for d in client.get("/api/departments").get_json()[
        "departments"]}
    assert counts["HR"] == 1 and client.get("/api/departments/hr").get_json()["ticket_count"] == 1
    stats = client.get("/api/routing/statistics").get_json()
    assert (stats["total_routed"], stats["by_department"], stats["by_method"]["auto"]) == (
        1, {"HR": 1}, 1)
    _error(client.put("/api/route/1", json={"department": "Finance"}), 404, "ticket_not_found")
