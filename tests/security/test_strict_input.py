"""Loose parsing (issue 12): ids are JSON integers in bodies and ASCII digits in paths, the same
answer from every service behind the gateway."""
from __future__ import annotations

import re

import pytest

from support_shared.testing.helpers import wait_until

pytestmark = [pytest.mark.e2e]

TICKET = {"title": "Strict ids", "description": "ids are integers", "user_name": "Ida",
          "user_email": "ida@example.com"}


@pytest.fixture(scope="module")
def routed(running) -> int:
    """A ticket of the default tenant that routing-service knows."""
    tid = running.post("/api/tickets", json=TICKET).json()["id"]
    wait_until(lambda: running.get(f"/api/routing/history/{tid}").status_code == 200,
               timeout=20, message="ticket known to routing")
    return tid


@pytest.mark.parametrize("bad", ["{tid}", True, False, "{tid}.0", 1.0, None, ["{tid}"],
                                 "０", "+{tid}"])
def test_route_takes_only_a_json_integer_ticket_id(running, routed, bad):
    value = bad.format(tid=routed) if isinstance(bad, str) else bad
    if isinstance(bad, list):
        value = [bad[0].format(tid=routed)]
    resp = running.post("/api/route", json={"ticket_id": value, "department": "Finance"})
    assert resp.status_code == 400, (value, resp.text)
    assert resp.json()["error"]["code"] == "validation_error"
    history = running.get(f"/api/routing/history/{routed}").json()["history"]
    assert all(h["method"] != "manual" for h in history)


def test_true_is_not_ticket_1(running):
    first = running.post("/api/tickets", json=TICKET).json()["id"]
    resp = running.post("/api/route", json={"ticket_id": True, "department": "HR"})
    assert resp.status_code == 400 and first >= 1


def _path_id_operations(running) -> list[tuple[str, str]]:
    doc = running.get("/openapi.json").json()
    return [(method.upper(), path) for path, item in doc["paths"].items()
            for method in item if re.search(r"{(ticket|user)_id}", path)]


@pytest.mark.parametrize("raw", ["{full}", "{arabic}", "{tid}.0", "0x1", str(2**63), "-{tid}"])
def test_a_path_id_is_ascii_digits_in_every_service(running, routed, raw):
    full = "".join(chr(ord("０") + int(d)) for d in str(routed))
    arabic = "".join(chr(ord("٠") + int(d)) for d in str(routed))
    sample = raw.format(full=full, arabic=arabic, tid=routed)
    ops = _path_id_operations(running)
    assert len(ops) >= 8
    for method, path in ops:
        url = re.sub(r"{\w+}", sample, path)
        resp = running.request(method, url, json={"department": "HR", "status": "in_progress",
                                                   "priority": "low"})
        assert resp.status_code == 404, (method, url, resp.status_code, resp.text)
        assert resp.json()["error"]["code"] == "not_found"
    assert running.get(f"/api/tickets/{routed}").json()["priority"] == "medium"


@pytest.mark.parametrize("port_env", ["TICKET_SERVICE_URL", "ROUTING_SERVICE_URL",
                                      "AI_SERVICE_URL"])
def test_internal_services_answer_the_same_404(running, routed, port_env):
    import requests

    full = "".join(chr(ord("０") + int(d)) for d in str(routed))
    paths = {"TICKET_SERVICE_URL": f"/api/tickets/{full}",
             "ROUTING_SERVICE_URL": f"/api/routing/history/{full}",
             "AI_SERVICE_URL": f"/api/categorizations/{full}"}
    resp = requests.get(running.env[port_env] + paths[port_env], timeout=10,
                        headers={"X-Internal-Token": running.env["INTERNAL_API_TOKEN"]})
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
