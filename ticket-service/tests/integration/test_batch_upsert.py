"""The batch upsert on the real database: outcomes per item, one transaction, races by key."""
import threading
from importlib import resources

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from support_shared.exchange import TicketUpsert
from ticket_service.batch.handlers import UpsertTickets, upsert_tickets
from ticket_service.batch.persistence import unit_of_work as batch_uow

pytestmark = pytest.mark.integration


def _alembic(conn, schema, target, down=False):
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("ticket_service") / "migrations"))
    cfg.attributes["connection"] = conn
    cfg.attributes["schema"] = schema
    (command.downgrade if down else command.upgrade)(cfg, target)


def item(n, **extra):
    return {"title": f"Printer {n}", "description": f"jammed on floor {n}",
            "user_name": "Ann", "user_email": "ann@example.com", "source": "zendesk",
            "external_id": f"Z-{n}", **extra}


def batch(client, items, tenant="acme"):
    resp = client.post("/api/tickets/batch", json={"tickets": items},
                       headers={"X-Tenant-ID": tenant})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def outbox_keys(engine, ticket_id):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT routing_key, (payload->>'ticket_version')::int FROM outbox "
            "WHERE (payload->>'ticket_id')::bigint = :id ORDER BY id"), {"id": ticket_id}).all()


def test_mixed_batch_answers_each_item_in_order(client, engine):
    body = batch(client, [item(1), {"title": "no description"}, item(2, priority="urgent"),
                          {"title": "plain", "description": "no external id",
                           "user_name": "Bo", "user_email": "bo@example.com"}, {"x": 7}])
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["created", "error", "error", "created", "error"]
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3, 4]
    assert body["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "failed": 3}
    assert body["results"][1]["error"]["code"] == "validation_error"
    fields = {d["field"] for d in body["results"][2]["error"]["details"]}
    assert fields == {"priority"}
    first = body["results"][0]
    got = client.get(f"/api/tickets/{first['id']}", headers={"X-Tenant-ID": "acme"}).get_json()
    assert (got["source"], got["external_id"], got["version"]) == ("zendesk", "Z-1", 1)
    assert outbox_keys(engine, first["id"]) == [("ticket.created", 1)]


def test_same_items_again_change_nothing_and_a_change_updates(client, engine):
    first = batch(client, [item(1), item(2, tags=["a"])])
    again = batch(client, [item(1), item(2, tags=["a"])])
    assert [r["status"] for r in again["results"]] == ["unchanged", "unchanged"]
    assert [r["id"] for r in again["results"]] == [r["id"] for r in first["results"]]
    changed = batch(client, [item(1, title="Printer 1 on fire"), item(2, tags=["a"])])
    assert [r["status"] for r in changed["results"]] == ["updated", "unchanged"]
    ticket_id = changed["results"][0]["id"]
    assert changed["results"][0]["version"] == 2
    assert outbox_keys(engine, ticket_id) == [("ticket.created", 1), ("ticket.updated", 2)]


def test_an_older_copy_never_overwrites_a_newer_one(client):
    batch(client, [item(1, external_updated_at="2026-01-02T00:00:00Z", title="newer")])
    older = batch(client, [item(1, external_updated_at="2026-01-01T00:00:00Z", title="older")])
    assert older["results"][0]["status"] == "unchanged"
    newest = batch(client, [item(1, external_updated_at="2026-01-03T00:00:00Z", title="new")])
    assert newest["results"][0]["status"] == "updated"


def test_expected_version_refuses_a_moved_ticket(client):
    batch(client, [item(1)])
    moved = batch(client, [item(1, title="changed", expected_version=5)])
    assert moved["results"][0]["error"]["code"] == "precondition_failed"


def test_one_key_twice_in_a_batch_applies_in_order(client, engine):
    body = batch(client, [item(1), item(1, title="second copy")])
    assert [(r["status"], r["version"]) for r in body["results"]] == [("created", 1),
                                                                        ("updated", 2)]
    assert body["results"][0]["id"] == body["results"][1]["id"]


def test_keys_are_per_tenant(client):
    a = batch(client, [item(1)], tenant="acme")
    b = batch(client, [item(1)], tenant="globex")
    assert b["results"][0]["status"] == "created"
    assert a["results"][0]["id"] != b["results"][0]["id"]


def test_whole_body_problems_are_400(client):
    for body in ({"tickets": []}, {"tickets": {}}, [], {"tickets": [item(1)] * 1001},
                 {"tickets": [item(1)], "other": 1}, {"tickets": [item(1), 7]},
                 {"tickets": [[None, None]]}):
        resp = client.post("/api/tickets/batch", json=body)
        assert resp.status_code == 400, body
        assert resp.get_json()["error"]["code"] == "validation_error"


def test_a_large_batch_fits_the_body_limit(client):
    items = [item(n, description="x" * 9_000) for n in range(1000)]
    body = batch(client, items)
    assert body["counts"]["created"] == 1000


def test_concurrent_creates_of_one_external_ticket_make_one_ticket(engine, settings):
    """Two transactions insert the same new key; the second waits, then updates the first's."""
    start = threading.Barrier(2)
    results = []

    def run(title):
        cmd = UpsertTickets("acme", [TicketUpsert.model_validate(item(9, title=title))])
        start.wait()
        results.append(upsert_tickets(cmd, uow=batch_uow(engine, settings.db_schema))[0])

    threads = [threading.Thread(target=run, args=(t,)) for t in ("from A", "from B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.status for r in results) == ["created", "updated"]
    assert len({r.ticket_id for r in results}) == 1
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM tickets")) == 1
        assert conn.scalar(sa.text("SELECT version FROM tickets")) == 2
    assert outbox_keys(engine, results[0].ticket_id) == [("ticket.created", 1),
                                                          ("ticket.updated", 2)]


def test_migration_0007_goes_down_and_up_again(client, engine, settings):
    """Down to 0006 drops the columns, the index and the trigger; up again restores them."""
    batch(client, [item(1)])
    with engine.begin() as conn:
        _alembic(conn, settings.db_schema, "0006_soft_delete", down=True)
    with engine.begin() as conn:
        _alembic(conn, settings.db_schema, "head")
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM tickets WHERE source IS NULL")) == 1
        before = conn.scalar(sa.text("SELECT change_xid::text FROM tickets"))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE tickets SET title = 'touched'"))
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT change_xid::text FROM tickets")) != before


def test_a_body_over_the_batch_limit_is_a_413_and_other_routes_keep_64_kib(client):
    huge = b'{"tickets": ["' + b"x" * (16 * 1024 * 1024) + b'"]}'
    resp = client.post("/api/tickets/batch", data=huge,
                       headers={"Content-Type": "application/json"})
    assert resp.status_code == 413
    assert resp.get_json()["error"]["code"] == "payload_too_large"
    single = client.post("/api/tickets", data=b'{"title": "' + b"x" * 70_000 + b'"}',
                         headers={"Content-Type": "application/json"})
    assert single.status_code == 413
