"""``ticketctl analytics rebuild`` against a migrated analytics schema on the real PostgreSQL."""
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from analytics_service.config import Settings
from analytics_service.persistence import AnalyticsUnitOfWork
from analytics_service.projection import handle_events
from support_shared.db import migrate
from support_shared.events import (EventType, TicketCategorized, TicketCreated, TicketRouted,
                                   new_event)
from support_shared.service import engine_for
from ticketctl.cli import cli

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def analytics(make_settings):
    """A migrated analytics schema with three tickets applied through the real projection."""
    settings = make_settings(Settings, schema="analytics")
    engine = engine_for(settings)
    migrate(engine, settings.db_schema, "analytics_service")
    for n, department in enumerate(("HR", "Finance", "HR"), start=1):
        at = T0 + timedelta(minutes=n)
        created = TicketCreated(title="t", description="d", user_name="Ann",
                                user_email="ann@example.com", priority="low", created_at=at)
        categorized = TicketCategorized(department=department, priority="high", confidence=0.9,
                                        method="local_model", model_version="m1")
        routed = TicketRouted(department=department, confidence=0.9, method="auto",
                              routing_version=1)
        for event_type, payload, version in ((EventType.TICKET_CREATED, created, 1),
                                             (EventType.TICKET_CATEGORIZED, categorized, 1),
                                             (EventType.TICKET_ROUTED, routed, 2)):
            envelope = new_event(event_type, payload, tenant_id="acme", ticket_id=n,
                                 ticket_version=version, occurred_at=at)
            handle_events([envelope], uow=AnalyticsUnitOfWork(engine))
    yield settings, engine
    engine.dispose()


def _ctl(settings, *args):
    env = {"ANALYTICS_SERVICE_DATABASE_URL": settings.database_url,
           "ANALYTICS_SERVICE_DB_SCHEMA": settings.db_schema}
    return CliRunner().invoke(cli, ["analytics", "rebuild", *args], env=env)


def test_rebuild_prints_both_counts_and_exits_0(analytics):
    settings, _ = analytics
    result = _ctl(settings)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("analytics-service: postgresql+psycopg2://")
    assert f"schema {settings.db_schema}" in lines[0]
    assert "replayed 9 event(s) into 3 ticket(s)" in lines[1]
    rows = {tuple(line.split()[:4]) for line in lines[3:]}
    assert {("acme", "total", "3", "3"), ("acme", "department.HR", "2", "2"),
            ("acme", "priority.high", "3", "3"), ("acme", "method.local_model", "3", "3"),
            ("acme", "routed", "3", "3")} <= rows
    assert lines[-1] == "counts match; the rebuilt projection is live"


def test_a_mismatch_is_reported_with_exit_1(analytics):
    settings, engine = analytics
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE ticket_facts SET priority = 'low' WHERE ticket_id = 2"))
    result = _ctl(settings)
    assert result.exit_code == 1
    differing = [line.split() for line in result.stdout.splitlines() if "<- differs" in line]
    assert differing == [["acme", "priority.high", "2", "3", "<-", "differs"],
                         ["acme", "priority.low", "1", "0", "<-", "differs"]]
    assert result.stdout.splitlines()[-1] == ("counts DIFFER in 2 place(s); the projection was "
                                              "left unchanged (--force replaces it anyway)")
    forced = json.loads(_ctl(settings, "--force", "--json").stdout)
    assert forced["committed"] and not forced["matches"]
    assert forced["schema"] == settings.db_schema
    assert _ctl(settings, "--dry-run").exit_code == 0           # repaired


def test_an_unreachable_database_is_exit_2():
    result = CliRunner().invoke(cli, ["analytics", "rebuild"], env={
        "ANALYTICS_SERVICE_DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1:1/x"})
    assert result.exit_code == 2
    assert "analytics database unavailable (postgresql+psycopg2://postgres@127.0.0.1:1/x)" \
        in result.stderr


def test_an_unmigrated_schema_is_exit_1(make_settings):
    settings = make_settings(Settings, schema="empty")
    result = _ctl(settings)
    assert result.exit_code == 1
    assert "analytics tables missing (not migrated?)" in result.stderr
