"""A worker process killed (SIGKILL) mid-job: the lock frees itself at its expiry, the next
job resumes from the last stored cursor, and no ticket is created twice."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from integration_service.testing.helpdesk import ticket

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)
TENANT = "acme"
H = {"X-Tenant-ID": TENANT}


def worker_process(settings, tmp_path, name):
    env = {**os.environ,
           "INTEGRATION_SERVICE_DATABASE_URL": settings.database_url,
           "INTEGRATION_SERVICE_DB_SCHEMA": settings.db_schema,
           "INTEGRATION_SERVICE_CREDENTIALS_KEY": settings.credentials_key,
           "INTEGRATION_SERVICE_ALLOW_PRIVATE_TARGETS": "127.0.0.1",
           "INTEGRATION_SERVICE_JOB_LOCK_SECONDS": "2",
           "INTEGRATION_SERVICE_WORKER_POLL_SECONDS": "0.1",
           "TICKET_SERVICE_URL": settings.ticket_service_url,
           "INTERNAL_API_TOKEN": settings.internal_token,
           "RABBITMQ_URL": settings.rabbitmq_url, "LOG_FORMAT": "text"}
    env.pop("METRICS_PORT", None)
    command = os.path.join(os.path.dirname(sys.executable), "integration-service")
    log = open(tmp_path / f"{name}.log", "wb")
    return subprocess.Popen([command, "worker"], env=env, stdout=log, stderr=log,
                            start_new_session=True)


def poll(check, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout}s")


def test_a_job_killed_mid_run_resumes_from_the_stored_cursor_without_duplicates(
        settings, helpdesk, tickets, add_source, client, clock, uow, tmp_path):
    helpdesk.records = [ticket(n) for n in range(1, 8)]     # 4 pages of 2
    helpdesk.hold_at = 3                                     # page 3 never answers
    add_source("zd", helpdesk.url)
    first = client.post("/api/ingestions", json={"source": "zd"}, headers=H).get_json()
    worker = worker_process(settings, tmp_path, "worker-1")
    try:
        assert helpdesk.wait_holding(60), (tmp_path / "worker-1.log").read_text()
        os.killpg(worker.pid, signal.SIGKILL)                # the crash
        worker.wait(10)
    finally:
        helpdesk.release.set()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    with uow() as work:
        assert work.sources.get(TENANT, "zd").cursor == "c4"
    killed = client.get(f"/api/ingestions/{first['id']}", headers=H).get_json()
    assert killed["status"] == "running" and killed["pages"] == 2
    assert tickets.created_ids(TENANT) == ["1", "2", "3", "4"]
    assert client.post("/api/ingestions", json={"source": "zd"}, headers=H).status_code == 409

    def restart():
        clock.now = datetime.now(timezone.utc)
        resp = client.post("/api/ingestions", json={"source": "zd"}, headers=H)
        return resp.get_json() if resp.status_code == 202 else None

    second = poll(restart, 30, "free lock after the lock expiry")
    requests_before = len(helpdesk.requests)
    worker = worker_process(settings, tmp_path, "worker-2")
    try:
        done = poll(lambda: (lambda j: j if j["status"] in ("succeeded", "failed") else None)(
            client.get(f"/api/ingestions/{second['id']}", headers=H).get_json()), 60, "end")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    assert done["status"] == "succeeded", (tmp_path / "worker-2.log").read_text()
    assert helpdesk.paths()[requests_before].endswith("cursor=c4")   # resumed, not restarted
    assert done["counts"] == {"created": 3, "updated": 0, "unchanged": 0, "failed": 0}
    first_after = client.get(f"/api/ingestions/{first['id']}", headers=H).get_json()
    assert first_after["status"] == "abandoned"
    created = [r for _t, items in tickets.calls for r in items]
    assert len(created) == 7 and tickets.created_ids(TENANT) == [str(n) for n in range(1, 8)]
    logger.warning("resume test: killed job %s (pages=%d, cursor c4), next job %s resumed at "
                   "cursor=c4: %s; helpdesk requests %s", first["id"], killed["pages"],
                   second["id"], done["counts"], helpdesk.paths())
