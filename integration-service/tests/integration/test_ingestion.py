"""Pull ingestion against the fake helpdesk and the fake batch endpoint, on real PostgreSQL:
both pagination families, Retry-After, a 500 mid-run, duplicates, the lock, resume."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from integration_service.ingestion import JobRunningError, start_job
from integration_service.testing.helpdesk import ticket

pytestmark = pytest.mark.integration
TENANT = "acme"


def run(runner, uow, clock, source="zd"):
    job = start_job(TENANT, source, uow=uow(), now=clock(), lock_s=60)
    assert runner.run_next()
    with uow() as work:
        return work.jobs.get(TENANT, job.id), work.sources.get(TENANT, source)


def test_a_zendesk_export_is_read_to_its_end_and_the_next_run_starts_from_its_cursor(
        helpdesk, add_source, runner, uow, clock, tickets):
    helpdesk.records = [ticket(n) for n in range(1, 6)]
    add_source("zd", helpdesk.url)
    job, source = run(runner, uow, clock)
    assert job.status == "succeeded" and job.pages == 3
    assert job.counts == {"created": 5, "updated": 0, "unchanged": 0, "failed": 0}
    assert tickets.created_ids(TENANT) == ["1", "2", "3", "4", "5"]
    assert source.cursor == "c5"
    helpdesk.records.append(ticket(6))
    job, source = run(runner, uow, clock)
    assert job.counts["created"] == 1 and job.pages == 1
    assert helpdesk.paths()[-1].endswith("cursor=c5")


@pytest.mark.parametrize("style, path", [("page", "/pages"), ("cursor", "/cursors"),
                                         ("link", "/links")])
def test_each_json_api_pagination_style_reads_every_record_once(
        style, path, helpdesk, add_source, runner, uow, clock, tickets):
    helpdesk.records = [{"key": f"K{n}", "title": f"T{n}", "mail": f"u{n}@example.com"}
                        for n in range(1, 6)]
    add_source("api", helpdesk.url, kind="json_api", path=path,
               pagination={"style": style, "page_size": 2,
                           "records_path": "" if style == "link" else "data",
                           "next_cursor_path": "meta.next_cursor"},
               field_map={"external_id": "key", "title": "title", "user_email": "mail"},
               defaults={"description": "imported", "user_name": "Someone"})
    job, _ = run(runner, uow, clock, "api")
    assert job.status == "succeeded", job.errors
    assert job.counts["created"] == 5 and job.counts["failed"] == 0
    assert tickets.created_ids(TENANT) == [f"K{n}" for n in range(1, 6)]
    assert len(helpdesk.requests) == 3


def test_a_429_waits_what_retry_after_says_and_the_job_goes_on(
        helpdesk, add_source, runner, uow, clock, tickets):
    helpdesk.records = [ticket(n) for n in range(1, 4)]
    helpdesk.fail_next(429, retry_after="2")
    add_source("zd", helpdesk.url)
    job, _ = run(runner, uow, clock)
    assert job.status == "succeeded" and job.counts["created"] == 3
    assert runner.sleeps == [2.0]
    with uow() as work:
        logs = [r.message for r in work.jobs.logs(job.id, None, 100)]
    assert any("HTTP 429; retry 1 in 2.0s" in m for m in logs)


def test_a_500_mid_run_fails_the_job_and_the_next_resumes_without_duplicates(
        helpdesk, add_source, runner, uow, clock, tickets):
    helpdesk.records = [ticket(n) for n in range(1, 8)]
    add_source("zd", helpdesk.url)
    original = helpdesk.route
    served = []

    def route(request):
        served.append(request)
        if len(served) == 1:     # after page 1, the source fails every retry of page 2
            helpdesk.fail_next(500, times=3)
        return original(request)

    helpdesk.route = route
    job, source = run(runner, uow, clock)
    assert job.status == "failed" and job.pages == 1
    assert "RetriesExhaustedError" in job.errors[-1]["error"]
    assert source.cursor == "c2"
    helpdesk.route = original
    job, source = run(runner, uow, clock)
    assert job.status == "succeeded"
    assert helpdesk.paths()[-3].endswith("cursor=c2")      # resumed where it stopped
    assert job.counts == {"created": 5, "updated": 0, "unchanged": 0, "failed": 0}
    assert tickets.created_ids(TENANT) == [str(n) for n in range(1, 8)]


def test_duplicates_across_pages_and_runs_create_one_ticket_each(
        helpdesk, add_source, runner, uow, clock, tickets):
    helpdesk.records = [ticket(1), ticket(2), ticket(3), ticket(1),
                        ticket(2, subject="Edited"), ticket(1), ticket(1)]
    add_source("zd", helpdesk.url)
    job, _ = run(runner, uow, clock)
    # pages [1, 2] [3, 1] [2 edited, 1] [1]: a repeated record within a page counts once
    assert job.counts == {"created": 3, "updated": 1, "unchanged": 3, "failed": 0}
    with uow() as work:
        work.sources.store_cursor(TENANT, "zd", None)     # a full re-sync
        work.commit()
    job, _ = run(runner, uow, clock)
    assert job.counts == {"created": 0, "updated": 2, "unchanged": 5, "failed": 0}
    assert tickets.created_ids(TENANT) == ["1", "2", "3"]


def test_records_without_an_external_id_or_refused_by_ticket_service_are_counted_failed(
        helpdesk, add_source, runner, uow, clock):
    helpdesk.records = [ticket(1), {"subject": "no id"}, ticket(2, subject=None,
                                                               description=None)]
    add_source("zd", helpdesk.url)
    job, _ = run(runner, uow, clock)
    assert job.status == "succeeded"
    assert job.counts == {"created": 1, "updated": 0, "unchanged": 0, "failed": 2}
    assert {e.get("external_id") for e in job.errors} == {None, "2"}


def test_one_job_per_source_at_a_time_until_the_lock_expires(
        helpdesk, add_source, uow, clock):
    add_source("zd", helpdesk.url)
    first = start_job(TENANT, "zd", uow=uow(), now=clock(), lock_s=60)
    with pytest.raises(JobRunningError):
        start_job(TENANT, "zd", uow=uow(), now=clock(), lock_s=60)
    clock.advance(61)           # the holder died without renewing
    second = start_job(TENANT, "zd", uow=uow(), now=clock(), lock_s=60)
    with uow() as work:
        assert work.jobs.get(TENANT, first.id).status == "abandoned"
        assert work.jobs.get(TENANT, second.id).status == "queued"


def test_a_running_job_stops_at_its_next_page_when_cancelled(
        helpdesk, add_source, runner, uow, clock, client):
    helpdesk.records = [ticket(n) for n in range(1, 8)]
    helpdesk.hold_at = 2
    add_source("zd", helpdesk.url)
    job = start_job(TENANT, "zd", uow=uow(), now=clock(), lock_s=60)
    thread = threading.Thread(target=runner.run_next)
    thread.start()
    assert helpdesk.wait_holding(30)
    resp = client.post(f"/api/ingestions/{job.id}/cancel", headers={"X-Tenant-ID": TENANT})
    assert resp.status_code == 202
    helpdesk.release.set()
    thread.join(30)
    with uow() as work:
        done = work.jobs.get(TENANT, job.id)
    assert done.status == "cancelled" and done.pages == 2
    again = start_job(TENANT, "zd", uow=uow(), now=clock(), lock_s=60)   # the lock was freed
    assert again.status == "queued"


def test_a_scheduled_source_gets_a_job_every_period_but_never_two_at_once(
        helpdesk, add_source, runner, uow, clock, settings, engine):
    from integration_service.worker import Worker

    helpdesk.records = [ticket(1)]
    add_source("zd", helpdesk.url, schedule_minutes=5)
    # a lock longer than the period: the first job is still alive when the next one is due
    worker = Worker(settings.model_copy(update={"job_lock_seconds": 3600}), engine, clock=clock)
    try:
        assert worker.start_scheduled() == 0             # not due yet
        clock.advance(5 * 60 + 1)
        assert worker.start_scheduled() == 1
        clock.advance(5 * 60 + 1)
        assert worker.start_scheduled() == 1             # due, but the first job still runs
    finally:
        worker.sender.close()
    with uow() as work:
        jobs = list(work.jobs.conn.execute(
            sa.text("SELECT status, trigger FROM ingestion_jobs")))
    assert [tuple(j) for j in jobs] == [("queued", "schedule")]
    assert runner.run_next() and not runner.run_next()
