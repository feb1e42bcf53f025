"""The export on the real database: formats, cursors, and no skip or repeat under writes."""
import csv
import io
import json
import threading
import time

import pytest
import sqlalchemy as sa

from support_shared.exchange import TicketUpsert
from support_shared.testing.helpers import wait_until
from ticket_service.batch.handlers import UpsertTickets, upsert_tickets
from ticket_service.batch.persistence import unit_of_work as batch_uow

pytestmark = pytest.mark.integration
TENANT = {"X-Tenant-ID": "acme"}


def item(n, title=None):
    return TicketUpsert.model_validate({
        "title": title or f"Ticket {n}", "description": f"about {n}", "user_name": "Ann",
        "user_email": "ann@example.com", "source": "crm", "external_id": f"C-{n}"})


def write(engine, settings, items, tenant="acme"):
    return upsert_tickets(UpsertTickets(tenant, items),
                          uow=batch_uow(engine, settings.db_schema))


def export(client, **params):
    resp = client.get("/api/tickets/export", query_string=params, headers=TENANT)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp


def records(client, **params):
    return [json.loads(line) for line in export(client, **params).get_data(as_text=True)
            .splitlines()]


def settled(client, count, **params):
    """The export once ``count`` records are below the horizon: it trails the oldest write
    transaction still running in the whole cluster (other tests' too)."""
    return wait_until(lambda: (lambda got: got if len(got) >= count else None)(
        records(client, **params)), timeout=60, interval=0.1, message=f"{count} records")


def test_jsonl_and_csv_carry_every_ticket_and_a_cursor(client, engine, settings):
    write(engine, settings, [item(n) for n in range(3)])
    write(engine, settings, [item(9)], tenant="globex")
    lines = settled(client, 3)
    assert [r["ticket"]["external_id"] for r in lines] == ["C-0", "C-1", "C-2"]
    resp = export(client, format="csv")
    assert resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["external_id"] for r in rows] == ["C-0", "C-1", "C-2"]
    assert rows[0]["cursor"] and rows[0]["id"] == str(lines[0]["ticket"]["id"])
    assert records(client, cursor=lines[-1]["cursor"]) == []
    assert [r["ticket"]["external_id"] for r in records(client, cursor=lines[0]["cursor"])] \
        == ["C-1", "C-2"]


def test_updated_since_and_limits(client, engine, settings):
    write(engine, settings, [item(n) for n in range(3)])
    settled(client, 3)
    assert records(client, updated_since="2999-01-01T00:00:00Z") == []
    assert len(records(client, limit=2)) == 2
    bad = client.get("/api/tickets/export", query_string={"cursor": "nope"}, headers=TENANT)
    assert bad.status_code == 400
    first = records(client, limit=1)[0]["cursor"]
    other = client.get("/api/tickets/export", query_string={"cursor": first},
                       headers={"X-Tenant-ID": "globex"})
    assert other.status_code == 400
    assert client.get("/api/tickets/export?format=xml", headers=TENANT).status_code == 400
    for since in ("0.5", "1700000000", "yesterday", "2026-12-01T00:00:00"):   # no zone either
        resp = client.get("/api/tickets/export", query_string={"updated_since": since},
                          headers=TENANT)
        assert resp.status_code == 400, since


def test_a_change_after_the_cursor_comes_again_at_its_new_version(client, engine, settings):
    write(engine, settings, [item(1), item(2)])
    cursor = settled(client, 2)[-1]["cursor"]
    write(engine, settings, [item(1, title="changed")])
    again = settled(client, 1, cursor=cursor)
    assert [(r["ticket"]["external_id"], r["ticket"]["version"]) for r in again] == [("C-1", 2)]


def test_a_transaction_committing_late_is_not_skipped(client, engine, settings):
    """Write A starts first, B commits first: B waits below A's horizon, then both come."""
    write(engine, settings, [item(0)])
    cursor = settled(client, 1)[-1]["cursor"]
    with engine.connect() as slow:
        slow.begin()
        slow.execute(sa.text("UPDATE tickets SET title = 'slow', updated_at = now() "
                             "WHERE external_id = 'C-0'"))
        write(engine, settings, [item(1)])            # commits while the first is open
        assert records(client, cursor=cursor) == []   # C-1 waits for the older transaction
        slow.commit()
    seen = [r["ticket"]["external_id"] for r in settled(client, 2, cursor=cursor)]
    assert seen == ["C-0", "C-1"]


def test_paging_during_concurrent_writes_neither_skips_nor_repeats(client, engine, settings):
    done = threading.Event()

    def writer():
        try:
            for n in range(0, 200, 10):
                write(engine, settings, [item(k) for k in range(n, n + 10)])
                write(engine, settings, [item(n // 2, title=f"edit {n}")])
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen: dict[int, list[int]] = {}
    cursor = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        finished = done.is_set()
        page = records(client, limit=7, **({"cursor": cursor} if cursor else {}))
        for record in page:
            seen.setdefault(record["ticket"]["id"], []).append(record["ticket"]["version"])
            cursor = record["cursor"]
        with engine.connect() as conn:
            latest = dict(conn.execute(sa.text("SELECT id, version FROM tickets")).all())
        if finished and {i: v[-1] for i, v in seen.items()} == latest:
            break
    thread.join(30)
    assert {i: v[-1] for i, v in seen.items()} == latest      # nothing skipped
    assert len(latest) == 200
    for versions in seen.values():                            # a ticket again only when newer
        assert versions == sorted(set(versions))
