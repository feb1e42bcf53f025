"""Migration 0002_accounts on a schema that already has tickets: requesters and tenants backfilled."""
from importlib import resources

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from support_shared.db import migrate

pytestmark = pytest.mark.integration


def _alembic(conn, schema, target, down=False):
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("ticket_service") / "migrations"))
    cfg.attributes["connection"] = conn
    cfg.attributes["schema"] = schema
    (command.downgrade if down else command.upgrade)(cfg, target)


@pytest.fixture
def old_engine(settings):
    from support_shared.service import engine_for

    eng = engine_for(settings)
    with eng.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{settings.db_schema}"'))
    with eng.begin() as conn:
        _alembic(conn, settings.db_schema, "0001")
    yield eng
    eng.dispose()


def test_upgrade_backfills_requesters_and_tenants(old_engine, settings):
    rows = [("default", "Ann", "ann@example.com"), ("default", "Ann B", "ANN@example.com"),
            ("default", "Bo", "bo@example.com"), ("acme", "Ann", "ann@example.com"),
            ("Weird Tenant", "Cy", "cy@example.com")]
    with old_engine.begin() as conn:
        for tenant_id, name, email in rows:
            conn.execute(sa.text(
                "INSERT INTO tickets (tenant_id, title, description, user_name, user_email, "
                "priority) VALUES (:t, 'x', 'y', :n, :e, 'low')"),
                {"t": tenant_id, "n": name, "e": email})

    migrate(old_engine, settings.db_schema, "ticket_service")

    with old_engine.connect() as conn:
        users = conn.execute(sa.text(
            "SELECT tenant_id, name, lower(email) FROM users ORDER BY tenant_id, id")).all()
        linked = conn.execute(sa.text(
            "SELECT t.tenant_id, t.user_email, u.email FROM tickets t "
            "JOIN users u ON u.id = t.requester_id ORDER BY t.id")).all()
        tenants = conn.scalars(sa.text("SELECT tenant_id FROM tenants ORDER BY 1")).all()
        tags = conn.scalars(sa.text("SELECT DISTINCT cardinality(tags) FROM tickets")).all()
        version = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    assert users == [("Weird Tenant", "Cy", "cy@example.com"), ("acme", "Ann", "ann@example.com"),
                     ("default", "Ann", "ann@example.com"), ("default", "Bo", "bo@example.com")]
    assert len(linked) == 5 and all(t.lower() == u.lower() for _, t, u in linked)
    assert tenants == ["acme", "default"]            # ids that cannot be tenant ids are left out
    assert tags == [0] and version == "0011_sla"


def test_downgrade_to_0001_and_up_again(old_engine, settings):
    migrate(old_engine, settings.db_schema, "ticket_service")
    with old_engine.begin() as conn:
        _alembic(conn, settings.db_schema, "0001", down=True)
    with old_engine.connect() as conn:
        tables = set(conn.scalars(sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
            {"s": settings.db_schema}))
    assert tables == {"alembic_version", "outbox", "inbox", "tickets"}
    migrate(old_engine, settings.db_schema, "ticket_service")
