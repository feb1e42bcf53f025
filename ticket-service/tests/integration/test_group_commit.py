"""Group commit of creates: one transaction for a batch, the same outcomes as one by one."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from support_shared.testing.helpers import wait_until
from support_shared import dependencies
from ticket_service.tickets.domain import IdempotencyKeyReusedError
from ticket_service.tickets.handlers import CreateResult, CreateTicket, create_tickets, single

pytestmark = pytest.mark.integration


def fields(title="VPN down", email="ann@example.com", name="Ann"):
    return {"title": title, "description": "cannot connect", "user_name": name,
            "user_email": email, "priority": "high"}


def cmd(title="VPN down", key=None, email="ann@example.com", tenant="default", name="Ann"):
    return CreateTicket(tenant, fields(title, email, name), key, f"rid-{title}", "key:1")


def rows(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def test_a_batch_commits_in_one_transaction_with_its_events_and_audit(make_uow, engine):
    cmds = [cmd(f"t{i}", email=f"user{i % 3}@example.com") for i in range(7)]
    outcomes = create_tickets(cmds, uow=make_uow())
    assert all(isinstance(o, CreateResult) and not o.replayed for o in outcomes)
    ids = [o.ticket.id for o in outcomes]
    assert len(set(ids)) == 7
    # Each outcome is the ticket of its own command, in order.
    stored = dict(rows(engine, "SELECT id, title FROM tickets"))
    assert [stored[i] for i in ids] == [f"t{i}" for i in range(7)]
    # xmin is the id of the transaction that wrote a row: one for all of them.
    assert len(rows(engine, "SELECT DISTINCT xmin::text FROM tickets")) == 1
    assert len(rows(engine, "SELECT DISTINCT xmin::text FROM outbox")) == 1
    events = rows(engine, "SELECT payload->>'ticket_id', headers->>'x-request-id' FROM outbox")
    assert sorted((int(t), r) for t, r in events) == sorted(
        (o.ticket.id, f"rid-t{i}") for i, o in enumerate(outcomes))
    audit = rows(engine, "SELECT ticket_id, action, request_id FROM audit ORDER BY ticket_id")
    assert audit == [(i, "created", f"rid-t{n}") for n, i in enumerate(ids)]
    # Three requesters, each created once and linked to its tickets.
    users = dict(rows(engine, "SELECT email, id FROM users"))
    assert sorted(users) == ["user0@example.com", "user1@example.com", "user2@example.com"]
    links = dict(rows(engine, "SELECT title, requester_id FROM tickets"))
    assert all(links[f"t{i}"] == users[f"user{i % 3}@example.com"] for i in range(7))


def test_known_requesters_are_reused_whatever_the_case_of_the_address(make_uow, engine):
    first = single(create_tickets([cmd("a", email="Bob@Example.com", name="Bob")], uow=make_uow()))
    outcomes = create_tickets([cmd("b", email="bob@example.COM", name="Robert"),
                               cmd("c", email="new@example.com")], uow=make_uow())
    assert outcomes[0].ticket.requester_id == first.ticket.requester_id
    assert rows(engine, "SELECT name FROM users WHERE lower(email) = 'bob@example.com'") == [
        ("Bob",)]
    assert len(rows(engine, "SELECT id FROM users")) == 2


def test_idempotency_keys_inside_and_across_batches(make_uow, engine):
    earlier = single(create_tickets([cmd("old", key="k-old")], uow=make_uow()))
    outcomes = create_tickets([
        cmd("new", key="k-new"),
        cmd("new", key="k-new"),             # same key, same body, same batch: a replay
        cmd("other body", key="k-new"),      # same key, other body: refused
        cmd("old", key="k-old"),             # a key committed before: a replay
        cmd("plain"),
        cmd("new", key="k-new", tenant="t2"),  # keys are per tenant
    ], uow=make_uow())
    assert isinstance(outcomes[0], CreateResult) and not outcomes[0].replayed
    assert outcomes[1].replayed and outcomes[1].ticket.id == outcomes[0].ticket.id
    assert isinstance(outcomes[2], IdempotencyKeyReusedError)
    assert outcomes[3].replayed and outcomes[3].ticket.id == earlier.ticket.id
    assert not outcomes[4].replayed and not outcomes[5].replayed
    assert outcomes[5].ticket.id != outcomes[0].ticket.id
    # Four tickets in all (old, new, plain, new of t2), each with exactly one event.
    assert rows(engine, "SELECT count(*), count(DISTINCT payload->>'ticket_id') FROM outbox") == [
        (4, 4)]
    assert rows(engine, "SELECT count(*) FROM tickets") == [(4,)]


def test_a_batch_that_fails_leaves_nothing_behind(make_uow, engine):
    # The API refuses NUL; here it gets past the handler and fails the multi-row ticket insert,
    # after the requesters were written in the same transaction.
    broken = cmd("bad\x00title", email="other@example.com")
    with pytest.raises(ValueError, match="NUL"):
        create_tickets([cmd("good"), broken], uow=make_uow())
    for table in ("tickets", "outbox", "users", "audit"):
        assert rows(engine, f"SELECT count(*) FROM {table}") == [(0,)], table


def test_concurrent_posts_through_the_app_each_get_their_own_ticket(app, client, engine):
    committer = dependencies.of(app).committer

    def post(i):
        with app.test_client() as c:
            return c.post("/api/tickets", json=fields(f"c{i}"),
                          headers={"X-Request-ID": f"rid-c{i}"})

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(post, range(48)))
    assert [a.status_code for a in answers] == [201] * 48
    assert sorted(a.get_json()["title"] for a in answers) == sorted(f"c{i}" for i in range(48))
    assert len({a.get_json()["id"] for a in answers}) == 48
    assert committer.items == 48   # every create went through the writer
    assert rows(engine, "SELECT count(*), count(DISTINCT payload->>'ticket_id') FROM outbox") == [
        (48, 48)]
    # A retry with the same key is a replay, not a second ticket.
    first = client.post("/api/tickets", json=fields("k"), headers={"Idempotency-Key": "k"})
    again = client.post("/api/tickets", json=fields("k"), headers={"Idempotency-Key": "k"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]



def test_a_writer_that_does_not_answer_in_time_is_504_outcome_unknown(app, client, engine):
    # Another transaction inserts the requester the create needs and holds it uncommitted:
    # the writer's insert waits for it, longer than the request waits for the writer.
    dependencies.of(app).committer.timeout_s = 0.3
    holder = engine.connect()
    holder.begin()
    holder.execute(sa.text("INSERT INTO users (tenant_id, name, email) "
                           "VALUES ('default', 'Held', 'held@example.com')"))
    headers = {"Idempotency-Key": "k-held"}
    try:
        resp = client.post("/api/tickets", json=fields("held", "held@example.com"),
                           headers=headers)
    finally:
        holder.rollback()     # the writer goes on: the create commits after all
        holder.close()
    assert resp.status_code == 504
    assert resp.get_json()["error"]["code"] == "outcome_unknown"
    assert "Retry-After" not in resp.headers
    wait_until(lambda: rows(engine, "SELECT count(*) FROM tickets") == [(1,)],
               message="the held create to commit")
    again = client.post("/api/tickets", json=fields("held", "held@example.com"),
                        headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert rows(engine, "SELECT count(*) FROM tickets") == [(1,)]
