"""The import machinery without the CLI: CSV mapping, titles, keys, Retry-After, retries."""
from datetime import datetime, timezone

import pytest

from ticketctl.demo import TEMPLATES, demo_requests, demo_ticket
from ticketctl.answers import retry_after_seconds
from ticketctl.importer import (GatewayImporter, ImportRefused, RowFailure, TicketRequest,
                                run_import)
from ticketctl.sources import (ColumnMapping, count_rows, csv_requests, derive_title, row_key,
                               shorten)


def test_shorten_cuts_at_a_word_and_marks_the_cut():
    assert shorten("  short   text \n", 80) == "short text"
    cut = shorten("alpha beta gamma delta", 14)
    assert cut == "alpha beta\u2026" and len(cut) <= 14
    assert shorten("x" * 300, 200) == "x" * 199 + "\u2026"


def test_derived_titles_are_the_first_words_within_the_limit():
    assert derive_title("printer jammed. Please help") == "Printer jammed."
    long = derive_title("unable to access shared mailbox " * 20)
    assert long.startswith("Unable to access shared mailbox") and len(long) <= 80
    assert long.endswith("\u2026")


def test_row_keys_depend_on_content_position_and_header():
    header, record = ["Document"], ["VPN down"]
    key = row_key(header, record, 1)
    assert key == row_key(list(header), list(record), 1)
    assert len({key, row_key(header, record, 2), row_key(header, ["VPN up"], 1),
                row_key(["Text"], record, 1)}) == 4
    assert len(key) <= 200 and key.startswith("ticketctl-import-")


def test_csv_rows_mapping_and_limit(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('\ufeffDocument,Prio\n"multi\nline",High\n,low\nthird,\n', encoding="utf-8")
    assert count_rows(path) == 3 and count_rows(path, limit=2) == 2
    items = list(csv_requests(path, ColumnMapping(priority="Prio")))
    assert isinstance(items[0], TicketRequest) and items[0].row == 1
    assert items[0].body == {"title": "Multi line", "description": "multi\nline",
                             "user_name": "ticketctl import",
                             "user_email": "import@example.com", "priority": "high"}
    assert items[1] == RowFailure(2, "empty description (column 'Document')")
    assert "priority" not in items[2].body
    assert len(list(csv_requests(path, ColumnMapping(), limit=1))) == 1


def test_retry_after_forms():
    now = datetime(2026, 11, 21, 10, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Sat, 21 Nov 2026 10:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Sat, 21 Nov 2026 09:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_the_server_retry_after_is_waited_and_capped(gateway):
    slept = []
    gateway.retry_after = "7"
    gateway.throttle.update({"a", "b"})
    importer = GatewayImporter(gateway.url, gateway.key, sleep=slept.append, max_wait_s=5)
    assert importer.send(TicketRequest(1, "k1", _body("a"))).status == "created"
    importer.max_wait_s = 60
    assert importer.send(TicketRequest(2, "k2", _body("b"))).status == "created"
    assert slept == [5.0, 7.0]
    importer.close()


def test_without_retry_after_the_backoff_grows(gateway):
    slept = []
    gateway.unavailable.add("down")
    gateway.unavailable_retry_after = None
    importer = GatewayImporter(gateway.url, gateway.key, sleep=slept.append, retries=5,
                               max_wait_s=3)
    outcome = importer.send(TicketRequest(1, "k", _body("down")))
    assert outcome.status == "failed" and "after 6 attempt(s)" in outcome.reason
    # 0.5 x 2^n plus up to 1 s of jitter, capped at max_wait_s
    assert [min(s, 3) == s for s in slept] == [True] * 5
    assert slept[0] >= 0.5 and slept[1] >= 1 and slept[2] >= 2 and slept[4] == 3


def test_lost_connections_are_retried_then_reported():
    slept = []
    importer = GatewayImporter("http://127.0.0.1:1", "k", sleep=slept.append, retries=2,
                               max_wait_s=4)
    outcome = importer.send(TicketRequest(9, "k", _body("x")))
    assert outcome.status == "failed" and outcome.reason.startswith("no answer after 3 attempt")
    assert len(slept) == 2 and all(0 <= s <= 4 for s in slept)


def test_run_import_counts_and_stops_on_a_refused_key(gateway):
    items = [TicketRequest(i, f"k{i}", _body(f"t{i}")) for i in range(1, 6)]
    done = []
    result = run_import([*items, RowFailure(6, "empty")], GatewayImporter(gateway.url, gateway.key),
                        concurrency=3, progress=done.append)
    assert (result.created, result.present, result.failed, len(done)) == (5, 0, 1, 6)
    again = run_import(items, GatewayImporter(gateway.url, gateway.key))
    assert (again.created, again.present) == (0, 5)
    with pytest.raises(ImportRefused):
        run_import(items, GatewayImporter(gateway.url, "wrong"), concurrency=1)


def test_ctrl_c_stops_sending_and_counts_what_was_done(gateway):
    items = [TicketRequest(i, f"k{i}", _body(f"t{i}")) for i in range(1, 101)]
    done = []

    def progress(n):
        done.append(n)
        if len(done) == 3:
            raise KeyboardInterrupt

    result = run_import(items, GatewayImporter(gateway.url, gateway.key), concurrency=2,
                        progress=progress)
    assert result.interrupted and result.to_dict()["interrupted"]
    assert 3 <= result.created == len(gateway.tickets) < 10   # those in flight, no more
    assert len(gateway.posts) == len(gateway.tickets)


def test_stop_ends_a_retry_wait_early(gateway):
    gateway.unavailable.add("down")
    importer = GatewayImporter(gateway.url, gateway.key, sleep=lambda s: importer.stop())
    outcome = importer.send(TicketRequest(1, "k", _body("down")))
    assert (outcome.status, outcome.reason) == ("failed", "stopped while waiting to retry")
    assert len(gateway.posts) == 1


def test_demo_tickets_are_varied_and_reproducible():
    tickets = [demo_ticket(3, i) for i in range(200)]
    assert tickets[17] == demo_ticket(3, 17) and tickets[17] != demo_ticket(4, 17)
    assert {t.department for t in tickets} == set(TEMPLATES)
    assert len({t.body["description"] for t in tickets}) > 150
    assert all("{" not in t.body["description"] + t.body["title"] for t in tickets)
    keys = [r.idempotency_key for r in demo_requests(5, 3)]
    assert keys == [f"ticketctl-seed-demo-3-{i}" for i in range(5)]


def _body(text):
    return {"title": text, "description": text, "user_name": "A", "user_email": "a@example.com"}
