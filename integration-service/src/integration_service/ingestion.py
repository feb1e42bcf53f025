"""Ingestion jobs: start one per (tenant, source) at a time, run it page by page, cancel it.

A job reads its source from the source's stored cursor; after each page is upserted through
ticket-service, the page's next position, the job's counts and a log line commit together
(and the lock's expiry moves on). A job killed mid-page therefore resumes, in the next job,
at the page it was on: those items are upserted again and come back ``unchanged``, never as
second tickets (the upsert key is (tenant, source, external_id)).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

import requests
from sqlalchemy.engine import Row

from .crypto import SecretBox, SecretsUnavailableError
from .mapping import MappingError, dedupe, map_record
from .pagination import Page, SourceResponseError, read_page
from .persistence import IntegrationUnitOfWork
from .retry import RetriesExhaustedError, RetryPolicy, call_with_retries
from .targets import TargetPolicy, TargetRefusedError
from .tickets import MAX_BATCH, TicketBatch, TicketServiceError

logger = logging.getLogger(__name__)
MAX_ERRORS = 100


class SourceNotFoundError(LookupError):
    pass


class JobRunningError(RuntimeError):
    """Another job of the same (tenant, source) holds the lock."""


class JobNotFoundError(LookupError):
    pass


def start_job(tenant_id: str, source: str, *, uow: IntegrationUnitOfWork, now: datetime,
              lock_s: float, trigger: str = "api") -> Row:
    """Queue a job for ``source``; ``JobRunningError`` while another holds its lock."""
    job_id = uuid.uuid4()
    with uow:
        if uow.sources.get(tenant_id, source) is None:
            raise SourceNotFoundError(source)
        taken, previous = uow.jobs.acquire_lock(tenant_id, source, job_id, now, lock_s)
        if not taken:
            raise JobRunningError(source)
        if previous is not None:
            uow.jobs.abandon(previous, now)
        job = uow.jobs.add(job_id, tenant_id, source, trigger)
        uow.jobs.log(job_id, "info", f"queued ({trigger})")
        uow.commit()
    return job


def cancel_job(tenant_id: str, job_id: uuid.UUID, *, uow: IntegrationUnitOfWork,
               now: datetime) -> Row:
    """A queued job is cancelled at once; a running one at its next page."""
    with uow:
        job = uow.jobs.get(tenant_id, job_id, lock=True)
        if job is None:
            raise JobNotFoundError(str(job_id))
        if job.status == "queued":
            job = uow.jobs.update(job_id, status="cancelled", finished_at=now,
                                  cancel_requested=True)
            uow.jobs.release_lock(tenant_id, job.source, job_id)
            uow.jobs.log(job_id, "info", "cancelled before it started")
        elif job.status == "running":
            job = uow.jobs.update(job_id, cancel_requested=True)
            uow.jobs.log(job_id, "info", "cancel requested")
        uow.commit()
    return job


def auth_headers(credentials: dict[str, Any] | None) -> tuple[dict[str, str], Any]:
    """Headers and a requests ``auth`` for the source's credentials."""
    if not credentials:
        return {}, None
    kind = credentials.get("type")
    if kind == "bearer":
        return {"Authorization": f"Bearer {credentials['token']}"}, None
    if kind == "basic":
        return {}, (credentials["username"], credentials["password"])
    return {credentials["header"]: credentials["value"]}, None


@dataclass
class JobRunner:
    uow: Callable[[], IntegrationUnitOfWork]
    batch: TicketBatch
    box: SecretBox
    targets: TargetPolicy
    policy: RetryPolicy
    timeout: tuple[float, float]
    lock_s: float
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]

    def log(self, job_id: uuid.UUID, level: str, message: str) -> None:
        getattr(logger, level if level != "warn" else "warning")("job %s: %s", job_id, message)
        with self.uow() as uow:
            uow.jobs.log(job_id, level, message)
            uow.commit()

    def run_next(self) -> bool:
        """Run the oldest queued job to its end; False when none was queued."""
        with self.uow() as uow:
            job = uow.jobs.claim_queued(self.clock())
            uow.commit()
        if job is None:
            return False
        self.run(job)
        return True

    def run(self, job: Row) -> None:
        try:
            self._run(job)
        except (SourceResponseError, TicketServiceError, TargetRefusedError,
                SecretsUnavailableError, RetriesExhaustedError,
                requests.RequestException) as exc:
            self._finish(job, "failed", f"{exc.__class__.__name__}: {exc}")

    def _getter(self, credentials: dict[str, Any] | None, job_id: uuid.UUID
                ) -> Callable[[str, dict[str, Any]], requests.Response]:
        session = requests.Session()
        session.trust_env = False
        headers, auth = auth_headers(credentials)

        def get(url: str, params: dict[str, Any]) -> requests.Response:
            self.targets.check(url)
            response = call_with_retries(
                lambda: session.get(url, params=params, headers=headers, auth=auth,
                                    timeout=self.timeout, allow_redirects=False),
                self.policy, sleep=self.sleep,
                on_retry=lambda message: self.log(job_id, "warning", f"source: {message}"))
            if response.is_redirect:
                raise SourceResponseError(f"source redirected (HTTP {response.status_code}); "
                                          f"redirects are not followed")
            return response

        return get

    def _run(self, job: Row) -> None:
        with self.uow() as uow:
            source = uow.sources.get(job.tenant_id, job.source)
            uow.commit()
        if source is None:
            self._finish(job, "failed", "the source was deleted")
            return
        secrets = self.box.open(source.secrets) or {}
        get = self._getter(secrets.get("credentials"), job.id)
        position = source.cursor
        self.log(job.id, "info", f"started at cursor {position!r}")
        counts = dict(job.counts)
        errors: list[dict[str, Any]] = list(job.errors)
        pages = job.pages
        while True:
            if not self._still_ours(job):
                return
            page = read_page(source.kind, get, source.config["base_url"], source.config,
                             position)
            self._upsert(job, source, page, counts, errors)
            pages += 1
            with self.uow() as uow:
                uow.sources.store_cursor(job.tenant_id, job.source, page.next)
                uow.jobs.update(job.id, pages=pages, counts=counts, errors=errors[:MAX_ERRORS],
                                cursor=page.next)
                uow.jobs.log(job.id, "info", f"page {pages}: {len(page.records)} records, "
                                             f"next cursor {page.next!r}")
                uow.commit()
            position = page.next
            if page.done:
                self._finish(job, "succeeded", None)
                return

    def _upsert(self, job: Row, source: Row, page: Page, counts: dict[str, int],
                errors: list[dict[str, Any]]) -> None:
        items = []
        for number, record in enumerate(page.records):
            try:
                items.append(map_record(record, source=source.name, kind=source.kind,
                                        config=source.config))
            except MappingError as exc:
                counts["failed"] += 1
                errors.append({"record": number, "error": str(exc)})
        items = dedupe(items)
        for start in range(0, len(items), MAX_BATCH):
            chunk = items[start:start + MAX_BATCH]
            result = self.batch.upsert(job.tenant_id, chunk)
            for outcome in result.results:
                status = outcome.get("status")
                if status in ("created", "updated", "unchanged"):
                    counts[status] += 1
                else:
                    counts["failed"] += 1
                    item = chunk[outcome.get("index", 0)] if chunk else {}
                    errors.append({"external_id": item.get("external_id"),
                                   "error": outcome.get("error")})

    def _still_ours(self, job: Row) -> bool:
        """Renew the lock; stop when cancelled or when the lock went to another job."""
        with self.uow() as uow:
            current = uow.jobs.get(job.tenant_id, job.id)
            if current is not None and current.cancel_requested:
                uow.commit()
                self._finish(job, "cancelled", None)
                return False
            if not uow.jobs.renew_lock(job.tenant_id, job.source, job.id, self.clock(),
                                       self.lock_s):
                uow.jobs.abandon(job.id, self.clock())
                uow.jobs.log(job.id, "error", "lost the source lock (expired): stopped")
                uow.commit()
                return False
            uow.commit()
        return True

    def _finish(self, job: Row, status: str, error: str | None) -> None:
        with self.uow() as uow:
            current = uow.jobs.get(job.tenant_id, job.id, lock=True)
            values: dict[str, Any] = {"status": status, "finished_at": self.clock()}
            if error:
                values["errors"] = [*(current.errors if current else []), {"error": error}]
            uow.jobs.update(job.id, **values)
            uow.jobs.log(job.id, "error" if error else "info",
                         f"{status}" + (f": {error}" if error else ""))
            uow.jobs.release_lock(job.tenant_id, job.source, job.id)
            uow.commit()
        logger.info("job %s %s", job.id, status)
