"""Rebuilding ticket_facts from the event_log on the real PostgreSQL: counts, damage, locking."""
import json
import threading
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from analytics_service.cli import main
from analytics_service.rebuild import (RebuildError, dashboard_counts, format_report, rebuild,
                                       rebuild_in)

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 10, 8, 0, tzinfo=timezone.utc)
DEPARTMENTS = ("IT Support", "HR", "Facilities", "Finance", "General")
METHODS = ("claude", "local_model", "keywords")
PRIORITIES = ("low", "medium", "high", "critical")


@pytest.fixture
def history(feed, events):
    """Twenty tickets of two tenants through the real projection: categorized, routed (some
    rerouted, some needing review), moved through statuses; a few events late or duplicated."""
    applied = []
    for n in range(1, 21):
        tenant = "acme" if n % 3 else "globex"
        ticket = events(n, T0.replace(minute=n), tenant)
        evs = [ticket.created(PRIORITIES[n % 4]),
               ticket.categorized(2, PRIORITIES[(n + 1) % 4], 0.5 + n / 50, METHODS[n % 3]),
               ticket.routed(3, DEPARTMENTS[n % 5], 0.6, needs_review=n % 4 == 0)]
        if n % 5 == 0:
            evs.append(ticket.routed(30, "Finance", None, version=2))
        if n % 2 == 0:
            evs.append(ticket.status(60, "pending", "in_progress", 2))
        if n % 6 == 0:
            evs.append(ticket.status(120, "in_progress", "resolved", 3))
        if n % 7 == 0:
            evs = [evs[-1], *evs[:-1], evs[0]]           # a late event and a duplicate
        applied += feed(*evs)
    assert applied.count(False) == 2
    return applied


def _facts(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT * FROM ticket_facts ORDER BY tenant_id, ticket_id")).mappings().all()


def _counts(engine):
    with engine.connect() as conn:
        return dashboard_counts(conn)


def test_rebuild_of_a_sound_projection_changes_nothing(engine, history):
    rows, counts = _facts(engine), _counts(engine)
    assert counts["acme"]["total"] == 14 and counts["globex"]["total"] == 6
    report = rebuild(engine)
    assert report.matches and report.committed
    assert (report.events, report.tickets) == (len(history) - 2, 20)
    assert report.before == report.after == counts
    assert _facts(engine) == rows                      # every column of every row, not just counts
    text = format_report(report)
    assert "counts match; the rebuilt projection is live" in text
    assert any(line.split()[:4] == ["acme", "status.in_progress", "7", "7"]
               for line in text.splitlines())


def test_rebuild_restores_a_lost_projection(engine, history):
    rows, counts = _facts(engine), _counts(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM ticket_facts WHERE ticket_id % 2 = 0"))
    refused = rebuild(engine)
    assert not refused.matches and not refused.committed
    assert refused.after == counts and refused.before != counts
    assert _counts(engine) != counts                   # left unchanged without --force
    forced = rebuild(engine, force=True)
    assert forced.committed and not forced.matches
    assert _counts(engine) == counts and _facts(engine) == rows
    assert rebuild(engine).matches                     # and now it agrees with itself


def test_corruption_is_detected_and_reported(engine, history, capsys, monkeypatch, settings):
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE ticket_facts SET department = 'Finance', status = 'closed' "
                             "WHERE tenant_id = 'acme' AND ticket_id = 1"))    # was HR, pending
    corrupted = _facts(engine)
    monkeypatch.setenv("ANALYTICS_SERVICE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ANALYTICS_SERVICE_DB_SCHEMA", settings.db_schema)
    with pytest.raises(SystemExit) as exit_:
        main(["rebuild", "--json"])
    assert exit_.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert out["matches"] is False and out["committed"] is False
    differences = {d["count"]: (d["before"], d["after"]) for d in out["differences"]}
    assert differences["status.closed"] == (1, 0)
    assert differences["status.pending"][0] + 1 == differences["status.pending"][1]
    assert differences["department.HR"][0] + 1 == differences["department.HR"][1]
    assert differences["department.Finance"][0] == differences["department.Finance"][1] + 1
    assert len(differences) == 4
    assert {d["tenant"] for d in out["differences"]} == {"acme"}
    assert _facts(engine) == corrupted                 # reported, not silently rewritten


def test_dry_run_never_commits(engine, history):
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM ticket_facts"))
    report = rebuild(engine, dry_run=True, force=True)
    assert report.dry_run and not report.committed and report.after["acme"]["total"] == 14
    assert _facts(engine) == []
    assert "dry run: nothing changed" in format_report(report)


def test_the_consumer_waits_for_the_rebuild(engine, feed, events, history):
    late = events(99, T0.replace(minute=59), "acme").created()     # a new ticket: no row lock
    with engine.connect() as conn, conn.begin():
        report = rebuild_in(conn)
        assert report.matches
        worker = threading.Thread(target=feed, args=(late,), daemon=True)
        worker.start()
        worker.join(0.5)
        assert worker.is_alive()                       # blocked by the table lock, no error
        with engine.connect() as reader:               # readers see the old rows meanwhile
            assert reader.scalar(sa.text("SELECT count(*) FROM ticket_facts")) == 20
    worker.join(30)
    assert not worker.is_alive()
    assert _counts(engine)["acme"]["total"] == 15          # applied on top of the rebuild


def test_a_busy_projection_makes_the_rebuild_give_up(engine, history):
    with engine.connect() as conn, conn.begin():
        conn.execute(sa.text("UPDATE ticket_facts SET needs_review = needs_review "
                             "WHERE ticket_id = 1"))             # a consumer mid-transaction
        with pytest.raises(RebuildError, match="stayed busy for 0.3 s"):
            rebuild(engine, lock_timeout_s=0.3)


def test_a_logged_event_that_no_longer_fits_is_named_and_nothing_changes(engine, history):
    rows = _facts(engine)
    with engine.begin() as conn:
        bad = conn.scalar(sa.text("UPDATE event_log SET data = '{\"department\": 5}' WHERE "
                                  "event_id = (SELECT event_id FROM event_log WHERE "
                                  "event_type = 'ticket.routed' LIMIT 1) RETURNING event_id"))
    with pytest.raises(RebuildError, match=f"event {bad} in the event_log no longer fits"):
        rebuild(engine, force=True)
    assert _facts(engine) == rows


def test_replay_spans_batches(engine, history, monkeypatch):
    rows = _facts(engine)
    monkeypatch.setattr("analytics_service.rebuild.REPLAY_BATCH", 7)   # tickets cut across
    report = rebuild(engine)
    assert report.matches and (report.events, report.tickets) == (len(history) - 2, 20)
    assert _facts(engine) == rows


def test_an_empty_log_rebuilds_an_empty_projection(engine):
    report = rebuild(engine)
    assert report.matches and (report.events, report.tickets) == (0, 0)
    assert "(no tickets)" in format_report(report)


def test_unmigrated_schema_is_refused(make_settings):
    from analytics_service.config import Settings
    from support_shared.service import engine_for

    eng = engine_for(make_settings(Settings, schema="nothing_here"))
    try:
        with pytest.raises(RebuildError, match="not migrated"):
            rebuild(eng)
    finally:
        eng.dispose()


def test_the_service_help_names_the_rebuild_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "rebuild" in capsys.readouterr().out
