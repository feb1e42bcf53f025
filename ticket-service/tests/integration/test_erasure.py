"""POST /api/users/{id}/erase on the real database: no table of the schema holds the
requester's name or address afterwards, published outbox rows included; rows stay."""
import logging

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.integration

NAME, EMAIL = "Zoe Erasable-Quill", "zoe.erasable-quill@example.com"
TICKET = {"title": f"{NAME} cannot log in", "description": f"mail {EMAIL} please",
          "user_name": NAME, "user_email": EMAIL, "priority": "high"}


def _rows_mentioning(engine, schema, *needles):
    """(table, row count) of every table of ``schema`` with a row whose text holds a needle."""
    found = {}
    with engine.connect() as conn:
        tables = conn.execute(sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s "
            "AND table_type = 'BASE TABLE'"), {"s": schema}).scalars().all()
        for table in tables:
            for needle in needles:
                n = conn.execute(sa.text(
                    f'SELECT count(*) FROM "{schema}"."{table}" t '
                    "WHERE strpos(lower(t::text), lower(:n)) > 0"), {"n": needle}).scalar()
                if n:
                    found[(table, needle)] = n
    return found, len(tables)


def _populate(client):
    user = client.post("/api/users", json={"name": NAME, "email": EMAIL}).get_json()
    ids = [client.post("/api/tickets", json=TICKET).get_json()["id"] for _ in range(2)]
    other = client.post("/api/tickets", json={**TICKET, "user_name": "Other",
                                              "user_email": "other@example.com",
                                              "title": "printer", "description": "jam"})
    client.patch(f"/api/tickets/{ids[0]}", json={"title": f"{NAME} again"})
    client.post(f"/api/tickets/{ids[0]}/comments",
                json={"author_name": NAME, "author_email": EMAIL, "body": "still broken"})
    client.post(f"/api/tickets/{other.get_json()['id']}/comments",
                json={"author_name": NAME, "author_email": EMAIL, "body": "me too"})
    return user["id"], ids, other.get_json()["id"]


def test_erase_leaves_no_trace_in_any_table_and_keeps_the_rows(client, engine, settings,
                                                                caplog):
    user_id, ids, other_id = _populate(client)
    with engine.begin() as conn:   # some of its events already went out: those are scrubbed too
        conn.execute(sa.text("UPDATE outbox SET published_at = now() WHERE id % 2 = 0"))
        counts = conn.execute(sa.text("SELECT (SELECT count(*) FROM tickets), "
                                      "(SELECT count(*) FROM comments), "
                                      "(SELECT count(*) FROM audit)")).one()
    found, _ = _rows_mentioning(engine, settings.db_schema, NAME, EMAIL)
    assert found

    caplog.set_level(logging.DEBUG)
    resp = client.post(f"/api/users/{user_id}/erase", json={"dead_letters": True})

    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["ticket_ids"] == ids and body["user"]["name"] == "[erased]"
    assert body["user"]["erased_at"] and body["rows"]["tickets"] == 2
    found, tables = _rows_mentioning(engine, settings.db_schema, NAME, EMAIL, "zoe")
    assert found == {} and tables >= 8
    assert NAME not in caplog.text and EMAIL not in caplog.text
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT (SELECT count(*) FROM tickets), "
                                    "(SELECT count(*) FROM comments), "
                                    "(SELECT count(*) FROM audit)")).one() == counts
        event = conn.execute(sa.text(
            "SELECT payload FROM outbox WHERE routing_key = 'requester.erased'")).scalar_one()
    assert event["data"] == {"requester_id": user_id, "ticket_ids": ids, "dead_letters": True}
    ticket = client.get(f"/api/tickets/{ids[0]}").get_json()
    assert (ticket["title"], ticket["user_email"], ticket["priority"]) == (
        "[erased]", "[erased]", "high")
    assert client.get(f"/api/tickets/{other_id}").get_json()["title"] == "printer"


def test_erasing_twice_is_fine_and_a_new_ticket_makes_a_new_requester(client):
    user_id, ids, _ = _populate(client)
    first = client.post(f"/api/users/{user_id}/erase")
    again = client.post(f"/api/users/{user_id}/erase", json={})
    assert first.status_code == again.status_code == 200
    assert again.get_json()["ticket_ids"] == ids
    assert again.get_json()["user"]["erased_at"] == first.get_json()["user"]["erased_at"]
    fresh = client.post("/api/tickets", json=TICKET).get_json()
    assert fresh["requester_id"] != user_id


def test_another_tenants_user_is_404_and_bad_bodies_are_400(client):
    user_id, _, _ = _populate(client)
    resp = client.post(f"/api/users/{user_id}/erase", headers={"X-Tenant-ID": "globex"})
    assert resp.status_code == 404
    assert client.post("/api/users/999999/erase").status_code == 404
    bad = client.post(f"/api/users/{user_id}/erase", json={"dead_letters": "yes"})
    assert bad.status_code == 400
    assert client.post(f"/api/users/{user_id}/erase", json={"other": 1}).status_code == 400
    assert client.get(f"/api/users/{user_id}").get_json()["name"] == NAME
