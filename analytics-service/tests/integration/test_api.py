"""Every dashboard endpoint's numbers on the real database, fed through the event handler."""
import random
from datetime import datetime, timezone

import pytest

from analytics_service.app import create_app
from support_shared import dependencies
from support_shared.testing.clients import trusted

pytestmark = pytest.mark.integration
# The events of edits, comments, applied routings and deletes: none in these data sets.
NONE_NEWER = {"ticket.updated": 0, "ticket.commented": 0, "ticket.deleted": 0,
              "ticket.assignment.applied": 0}

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)
ACME = {"X-Tenant-ID": "acme"}


def _at(day: int, hour: int, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, 0, tzinfo=timezone.utc)


@pytest.fixture
def dataset(feed, events):
    """Six acme tickets (plus one of globex), applied in a shuffled order.

    ticket  created      priority->categorized  conf   method       routed (s)  dept        status
    1       03-10 08:00  low -> low             0.95   claude       +20         IT Support  resolved +3600
    2       03-09 20:00  medium -> high         0.85   claude       +40         IT Support  in_progress
    3       03-08 10:00  high -> high           0.55   local_model  +60 review  HR          pending
    4       03-05 10:00  critical -> critical   0.30   keywords     +80 review  Finance     closed (resolved +7200)
    5       03-10 11:00  medium -> medium       1.00   claude       -           -           pending
    6       02-20 10:00  low                    -      -            -           -           pending
    """
    t1, t2, t3 = events(1, _at(10, 8)), events(2, _at(9, 20)), events(3, _at(8, 10))
    t4, t5, t6 = events(4, _at(5, 10)), events(5, _at(10, 11)), events(6, _at(20, 10, month=2))
    other = events(1, _at(10, 9), tenant="globex")
    envelopes = [
        t1.created("low"), t1.categorized(10, "low", 0.95, "claude"), t1.routed(20, "IT Support", 0.95),
        t1.status(600, "pending", "in_progress", 3), t1.status(3600, "in_progress", "resolved", 4),
        t2.created("medium"), t2.categorized(20, "high", 0.85, "claude"),
        t2.routed(40, "IT Support", 0.85), t2.status(900, "pending", "in_progress", 3),
        t3.created("high"), t3.categorized(30, "high", 0.55, "local_model"),
        t3.routed(60, "HR", 0.55, needs_review=True),
        t4.created("critical"), t4.categorized(40, "critical", 0.3, "keywords"),
        t4.routed(80, "Finance", 0.3, needs_review=True),
        t4.status(7200, "pending", "resolved", 3), t4.status(9000, "resolved", "closed", 4),
        t5.created("medium"), t5.categorized(50, "medium", 1.0, "claude"),
        t6.created("low"),
        other.created("high"), other.categorized(5, "high", 0.2, "keywords"),
        other.routed(10, "HR", 0.2), other.status(60, "pending", "in_progress", 3),
    ]
    random.Random(20250310).shuffle(envelopes)
    assert all(feed(*envelopes))


@pytest.fixture
def client(settings):
    app = trusted(create_app(settings, clock=lambda: NOW))
    yield app.test_client()
    dependencies.of(app).close()


def _get(client, path, headers=ACME):
    resp = client.get(path, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_dashboard_summary(client, dataset):
    assert _get(client, "/api/dashboard/summary") == {
        "total_tickets": 6,
        "by_status": {"pending": 3, "in_progress": 1, "resolved": 1, "closed": 1, "waiting": 0},
        "by_department": {"Finance": 1, "HR": 1, "IT Support": 2},
        "by_priority": {"low": 2, "medium": 1, "high": 2, "critical": 1},
        "needs_review": 2,
        "created_last_24h": 3,
        "resolved_last_24h": 1,
    }


def test_dashboard_routing(client, dataset):
    body = _get(client, "/api/dashboard/routing")
    distribution = body.pop("confidence_distribution")
    assert body == {
        "total_routed": 4,
        "by_department": {"Finance": 1, "HR": 1, "IT Support": 2},
        "by_categorization_method": {"claude": 3, "local_model": 1, "keywords": 1},
        "average_confidence": 0.73,
        "needs_review": 2,
    }
    assert [b["bucket"] for b in distribution] == [
        "0.0-0.1", "0.1-0.2", "0.2-0.3", "0.3-0.4", "0.4-0.5",
        "0.5-0.6", "0.6-0.7", "0.7-0.8", "0.8-0.9", "0.9-1.0"]
    assert [b["count"] for b in distribution] == [0, 0, 0, 1, 0, 1, 0, 0, 1, 2]


def test_ticket_analytics(client, dataset):
    assert _get(client, "/api/analytics/tickets") == {
        "total": 6,
        "by_status": {"pending": 3, "in_progress": 1, "resolved": 1, "closed": 1, "waiting": 0},
        "by_priority": {"low": 2, "medium": 1, "high": 2, "critical": 1},
        "by_department": {"Finance": 1, "HR": 1, "IT Support": 2},
        "open": 4,
        "events_processed": {"ticket.created": 6, "ticket.categorized": 5,
                             "ticket.routed": 4, "ticket.status.updated": 5, **NONE_NEWER},
    }


def test_performance_percentiles(client, dataset):
    assert _get(client, "/api/analytics/performance") == {
        "time_to_categorize": {"count": 5, "avg_seconds": 30.0, "p50_seconds": 30.0,
                               "p95_seconds": 48.0, "max_seconds": 50.0},
        "time_to_route": {"count": 4, "avg_seconds": 50.0, "p50_seconds": 50.0,
                          "p95_seconds": 77.0, "max_seconds": 80.0},
        "time_to_resolve": {"count": 2, "avg_seconds": 5400.0, "p50_seconds": 5400.0,
                            "p95_seconds": 7020.0, "max_seconds": 7200.0},
    }


def test_performance_without_data_has_null_numbers(client, engine):
    empty = {"count": 0, "avg_seconds": None, "p50_seconds": None, "p95_seconds": None,
             "max_seconds": None}
    body = _get(client, "/api/analytics/performance")
    assert body == {"time_to_categorize": empty, "time_to_route": empty, "time_to_resolve": empty}


def test_trends_include_zero_days_oldest_first(client, dataset):
    body = _get(client, "/api/analytics/trends?days=7")
    assert body["days"] == 7
    assert [(d["date"], d["created"], d["routed"], d["resolved"]) for d in body["trends"]] == [
        ("2025-03-04", 0, 0, 0),
        ("2025-03-05", 1, 1, 1),
        ("2025-03-06", 0, 0, 0),
        ("2025-03-07", 0, 0, 0),
        ("2025-03-08", 1, 1, 0),
        ("2025-03-09", 1, 1, 0),
        ("2025-03-10", 2, 1, 1),
    ]


def test_trends_default_and_window_sizes(client, dataset):
    assert _get(client, "/api/analytics/trends")["days"] == 7
    month = _get(client, "/api/analytics/trends?days=30")["trends"]
    assert len(month) == 30 and month[0]["date"] == "2025-02-09" and month[-1]["date"] == "2025-03-10"
    assert sum(d["created"] for d in month) == 6
    assert _get(client, "/api/analytics/trends?days=1")["trends"] == [
        {"date": "2025-03-10", "created": 2, "routed": 1, "resolved": 1}]


@pytest.mark.parametrize("days", ["0", "366", "abc", "-3", "2.5"])
def test_trends_bad_days_is_400(client, engine, days):
    resp = client.get(f"/api/analytics/trends?days={days}", headers=ACME)
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == "days"


def test_department_is_case_insensitive(client, dataset):
    assert _get(client, "/api/analytics/department/it%20SUPPORT") == {
        "department": "IT Support",
        "total": 2,
        "by_status": {"pending": 0, "in_progress": 1, "resolved": 1, "closed": 0, "waiting": 0},
        "by_priority": {"low": 1, "medium": 0, "high": 1, "critical": 0},
        "average_confidence": 0.9,
        "needs_review": 0,
        "time_to_resolve": {"count": 1, "avg_seconds": 3600.0, "p50_seconds": 3600.0,
                            "p95_seconds": 3600.0, "max_seconds": 3600.0},
    }


def test_unknown_department_gives_zeros(client, dataset):
    assert _get(client, "/api/analytics/department/Legal") == {
        "department": "Legal",
        "total": 0,
        "by_status": {"pending": 0, "in_progress": 0, "resolved": 0, "closed": 0, "waiting": 0},
        "by_priority": {"low": 0, "medium": 0, "high": 0, "critical": 0},
        "average_confidence": None,
        "needs_review": 0,
        "time_to_resolve": {"count": 0, "avg_seconds": None, "p50_seconds": None,
                            "p95_seconds": None, "max_seconds": None},
    }


def test_tenants_see_only_their_own_tickets(client, dataset):
    globex = _get(client, "/api/dashboard/summary", headers={"X-Tenant-ID": "globex"})
    assert globex["total_tickets"] == 1
    assert globex["by_department"] == {"HR": 1}
    assert globex["by_status"]["in_progress"] == 1
    assert _get(client, "/api/analytics/department/hr", headers={"X-Tenant-ID": "globex"})["total"] == 1
    assert _get(client, "/api/analytics/department/hr")["average_confidence"] == 0.55
    nobody = _get(client, "/api/analytics/tickets", headers={})
    assert nobody["total"] == 0
    assert nobody["events_processed"] == {"ticket.created": 0, "ticket.categorized": 0,
                                          "ticket.routed": 0, "ticket.status.updated": 0,
                                          **NONE_NEWER}
    assert _get(client, "/api/dashboard/routing", headers={})["confidence_distribution"][2]["count"] == 0


def test_health_and_unknown_path(client, engine):
    resp = client.get("/health")
    assert resp.status_code == 200
    assert resp.get_json()["checks"] == {"database": "ok", "rabbitmq": "ok"}
    missing = client.get("/api/analytics/nope")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
