"""outbox status on a real schema: backlog, oldest unpublished age, failing rows; errors."""
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from support_shared.config import ServiceSettings
from support_shared.db import make_engine
from support_shared.outbox import metadata as outbox_metadata, outbox_table

pytestmark = pytest.mark.integration


def create_schema(settings, with_outbox=True):
    admin = make_engine(settings.database_url, "public")
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{settings.db_schema}"'))
    admin.dispose()
    engine = make_engine(settings.database_url, settings.db_schema)
    if with_outbox:
        outbox_metadata.create_all(engine)
    return engine


def add_rows(engine, *rows):
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(outbox_table.insert(), [
            {"event_id": uuid.uuid4(), "routing_key": "ticket.created", "payload": {},
             "occurred_at": now - timedelta(seconds=age), "attempts": attempts,
             "published_at": now - timedelta(seconds=age - 1) if published else None}
            for age, published, attempts in rows
        ])


@pytest.fixture
def outbox_env(settings):
    engine = create_schema(settings)
    add_rows(engine,
             (3600, True, 0), (900, True, 2),                     # published: not counted
             (120, False, 0), (30, False, 3), (5, False, 0))      # the backlog
    engine.dispose()
    return {"TICKET_SERVICE_DATABASE_URL": settings.database_url,
            "TICKET_SERVICE_DB_SCHEMA": settings.db_schema}


def test_backlog_age_and_failing_rows(ctl, outbox_env, settings):
    result = ctl("outbox", "status", "--service", "ticket-service", "--json", env=outbox_env)
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert report["service"] == "ticket-service" and report["schema"] == settings.db_schema
    assert report["backlog"] == 3
    assert report["failing"] == 1
    assert 119 <= report["oldest_unpublished_age_s"] < 180
    assert report["error"] is None
    text = ctl("outbox", "status", "--service", "ticket-service", env=outbox_env).stdout
    row = text.splitlines()[1].split()
    assert row[:3] == ["ticket-service", settings.db_schema, "3"] and row[4:] == ["1", "-"]


def test_empty_outbox(ctl, settings):
    create_schema(settings).dispose()
    env = {"ROUTING_SERVICE_DATABASE_URL": settings.database_url,
           "ROUTING_SERVICE_DB_SCHEMA": settings.db_schema}
    (report,) = json.loads(ctl("outbox", "status", "--service", "routing-service", "--json",
                               env=env).stdout)
    assert report["backlog"] == 0 and report["failing"] == 0
    assert report["oldest_unpublished_age_s"] is None


def test_schema_without_outbox_is_an_error_not_a_crash(ctl, make_settings):
    bare = make_settings(ServiceSettings, schema="ctlbare")
    create_schema(bare, with_outbox=False).dispose()
    env = {"AI_SERVICE_DATABASE_URL": bare.database_url, "AI_SERVICE_DB_SCHEMA": bare.db_schema}
    result = ctl("outbox", "status", "--service", "ai-categorization-service", env=env)
    assert result.exit_code == 1
    assert f"no outbox in schema '{bare.db_schema}'" in result.stdout
    assert "Traceback" not in result.output


def test_unreachable_database_exits_2(ctl, outbox_env):
    env = {**outbox_env, "ROUTING_SERVICE_DATABASE_URL":
           "postgresql+psycopg2://postgres@127.0.0.1:1/ticket_triage"}
    result = ctl("outbox", "status", "--service", "ticket-service", "--service",
                 "routing-service", "--json", env=env)
    assert result.exit_code == 2
    reports = {r["service"]: r for r in json.loads(result.stdout)}
    assert reports["ticket-service"]["backlog"] == 3                # the others still reported
    assert reports["routing-service"]["error"].startswith("database unavailable")
