"""Driving a running suite under faults: steady load, process kills, raw publishing, audits.

``FaultDriver`` wraps a started ``support_shared.suite.Suite`` (and the servers it runs on) for
fault tests: create tickets at a steady rate through the gateway, SIGKILL and restart one
process, read every service's schema, publish raw messages, and audit the outcome layer by
layer: which accepted tickets were lost, which effects happened more than once.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pika
import requests
import sqlalchemy as sa

from ..db import make_engine
from ..manifest import SUITE, queue_name
from ..messaging.connection import connect
from ..suite import Suite
from .helpers import wait_until

SCHEMAS = {s.short: s.env_prefix for s in SUITE.with_schema}   # short name -> env prefix
QUEUES = {s.name: tuple(c.routing_key for c in s.consumes) for s in SUITE.consumers}
PUBLISHERS = tuple(s.short for s in SUITE.publishers)
FLOW_EVENTS = ("ticket.created", "ticket.categorized", "ticket.routed")
TEXTS = [  # (title, description, department the keyword rules choose)
    ("Cannot log in to VPN", "My VPN client rejects my password; I cannot reach the network drive."),
    ("Question about my payslip", "My payroll misses overtime hours; what is my annual leave balance?"),
    ("Air conditioning broken", "The air conditioning in the meeting room is broken, light flickers."),
    ("Invoice not paid", "A supplier invoice from March is unpaid; please check the expense report."),
    ("Laptop screen cracked", "My laptop display is cracked and the keyboard does not work."),
]


@dataclass
class Load:
    """What a load run sent and what came back."""

    sent: int = 0
    accepted: dict[int, int] = field(default_factory=dict)    # ticket id -> request number
    statuses: Counter = field(default_factory=Counter)        # HTTP status (0: no answer) -> n
    errors: list[str] = field(default_factory=list)           # non-2xx answers, exceptions
    max_latency_s: float = 0.0
    # (sent at, answered at, HTTP status or 0, JSON error code or None), monotonic clock
    timeline: list[tuple[float, float, int, str | None]] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return sorted(self.accepted)


@dataclass(frozen=True)
class Baseline:
    """Where the suite stood before a test: later audits count only what came after."""

    max_ticket_id: int
    total: int
    by_department: Counter


@dataclass
class Audit:
    """Lost: a ticket never routed, or missing one of its events in analytics. Duplicated: an
    effect that happened twice (a second auto routing, an event logged twice, a ticket counted
    twice in the dashboard)."""

    accepted: int
    stored: int
    lost: set[int] = field(default_factory=set)
    duplicates: Counter = field(default_factory=Counter)
    counted: int = 0
    by_department: dict[str, int] = field(default_factory=dict)
    expected_by_department: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, extra: int) -> None:
        if extra > 0:
            self.duplicates[kind] += extra

    @property
    def duplicated(self) -> int:
        return sum(self.duplicates.values())

    def assert_exactly_once(self) -> None:
        assert not self.lost, f"{len(self.lost)} tickets lost: {sorted(self.lost)[:20]}"
        assert not self.duplicates, f"effects applied more than once: {dict(self.duplicates)}"
        assert self.stored >= self.accepted, "a ticket that got a 2xx is not stored"
        assert self.counted == self.stored, (self.counted, self.stored)
        assert self.by_department == self.expected_by_department


def _error_code(resp: requests.Response) -> str | None:
    """The ``error.code`` of a JSON error answer, else None."""
    if resp.status_code < 400 or not resp.headers.get("Content-Type", "").startswith(
            "application/json"):
        return None
    try:
        return str(resp.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


class FaultDriver:
    """A running suite as fault tests see it (one API key, one set of schemas and queues)."""

    def __init__(self, suite: Suite, database_url: str, rabbitmq_url: str,
                 key: str | None = None) -> None:
        self.suite, self.env = suite, suite.env
        self.database_url, self.rabbitmq_url = database_url, rabbitmq_url
        self.base_url = f"http://127.0.0.1:{self.env['GATEWAY_PORT']}"
        self.http = requests.Session()
        if key:
            self.http.headers["Authorization"] = f"Bearer {key}"
        self.extra: list[subprocess.Popen] = []
        self._engines: dict[str, sa.Engine] = {}

    # -- processes ---------------------------------------------------------------------------
    def add_process(self, service: str, command: str,
                    env: dict[str, str] | None = None) -> subprocess.Popen:
        """One more ``<service> <command>`` (a competing consumer, a second relay), with
        ``env`` instead of the suite's environment if given."""
        assert self.suite.log_dir is not None
        with open(self.suite.log_dir / f"extra-{service}-{command}-{len(self.extra)}.log",
                  "ab") as log:
            proc = subprocess.Popen([str(Path(sys.executable).parent / service), command],
                                    env=env or self.env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.extra.append(proc)
        return proc

    def revive(self) -> list[str]:
        """Start every suite process that is not running; stop the extra ones. Returns names."""
        for proc in self.extra:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self.extra.clear()
        dead = self.suite.dead()
        for name in dead:
            self.suite.start_process(name)
        return dead

    def log_marks(self) -> dict[Path, int]:
        """Current size of every log, to read only what comes after (``since=``)."""
        assert self.suite.log_dir is not None
        return {p: p.stat().st_size for p in self.suite.log_dir.glob("*.log")}

    def logs(self, since: dict[Path, int] | None = None) -> dict[str, str]:
        """Every process's log text (restarts included), from ``since``'s offsets on."""
        assert self.suite.log_dir is not None
        since = since or {}
        return {p.name: p.read_bytes()[since.get(p, 0):].decode(errors="replace")
                for p in sorted(self.suite.log_dir.glob("*.log"))}

    def grep_logs(self, *needles: str, since: dict[Path, int] | None = None) -> int:
        """How many log lines contain any of ``needles``."""
        return sum(1 for text in self.logs(since).values() for line in text.splitlines()
                   if any(n in line for n in needles))

    # -- HTTP --------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        """One request; a connection reset is retried once when a retry is safe (a GET, or a
        write with an ``Idempotency-Key``). A kept-alive connection can be closed by the server's
        idle deadline just as it is reused: that race is the client's to absorb, not a fault."""
        kw.setdefault("timeout", 15)
        safe = method.upper() == "GET" or "Idempotency-Key" in (kw.get("headers") or {})
        try:
            return self.http.request(method, self.base_url + path, **kw)
        except requests.ConnectionError as exc:
            if not safe or isinstance(exc, requests.ConnectTimeout):
                raise
            return self.http.request(method, self.base_url + path, **kw)

    def create_ticket(self, n: int, timeout: float = 15) -> requests.Response:
        title, description = TEXTS[n % len(TEXTS)]
        return self.request("POST", "/api/tickets", timeout=timeout,
                            headers={"Idempotency-Key": f"fault-{uuid.uuid4().hex}"}, json={
            "title": f"{title} #{n}", "description": description, "user_name": "Fault Test",
            "user_email": "faults@example.com", "priority": "medium"})

    def create_tickets(self, count: int, start: int = 0) -> list[int]:
        ids = []
        for n in range(start, start + count):
            resp = self.create_ticket(n)
            assert resp.status_code == 201, resp.text
            ids.append(resp.json()["id"])
        return ids

    def run_load(self, rate: float, seconds: float, *, workers: int = 8, timeout: float = 20,
                 on_tick: Callable[[float], None] | None = None,
                 until: Callable[[float], bool] | None = None) -> Load:
        """Create ``rate`` tickets per second for ``seconds`` (or until ``until(elapsed)``
        holds); ``on_tick(elapsed)`` runs between."""
        load = Load()
        started = time.monotonic()

        def one(n: int) -> None:
            sent_at = time.monotonic()
            try:
                resp = self.create_ticket(n, timeout=timeout)
            except requests.RequestException as exc:
                load.statuses[0] += 1
                load.errors.append(repr(exc))
                load.timeline.append((sent_at, time.monotonic(), 0, None))
                return
            finally:
                load.max_latency_s = max(load.max_latency_s, time.monotonic() - sent_at)
            load.timeline.append((sent_at, time.monotonic(), resp.status_code, _error_code(resp)))
            load.statuses[resp.status_code] += 1
            if 200 <= resp.status_code < 300:
                load.accepted[resp.json()["id"]] = n
            else:
                load.errors.append(f"{resp.status_code} {resp.headers.get('Content-Type')} "
                                   f"{resp.text[:300]}")

        with ThreadPoolExecutor(workers) as pool:
            for n in range(int(rate * seconds)):
                if until is not None and until(time.monotonic() - started):
                    break
                due = started + n / rate
                while (now := time.monotonic()) < due:
                    if on_tick is not None:
                        on_tick(now - started)
                    time.sleep(min(0.02, due - now))
                load.sent += 1
                pool.submit(one, n)
        return load

    # -- databases and broker ------------------------------------------------------------------
    def schema(self, short: str) -> str:
        return self.env[f"{SCHEMAS[short]}DB_SCHEMA"]

    def sql(self, short: str, query: str, **params: Any) -> list[sa.Row]:
        """Run ``query`` in service ``short``'s schema ("ticket", "ai", "routing", "analytics")."""
        if short not in self._engines:
            self._engines[short] = make_engine(self.database_url, self.schema(short))
        with self._engines[short].begin() as conn:
            return list(conn.execute(sa.text(query), params))

    def backlogs(self) -> dict[str, int]:
        return {s: self.sql(s, "SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0]
                for s in PUBLISHERS}

    def queue(self, service: str, key: str) -> str:
        return queue_name(self.env['QUEUE_PREFIX'], service, key)

    @property
    def queues(self) -> list[str]:
        return [self.queue(svc, key) for svc, keys in QUEUES.items() for key in keys]

    def depths(self, names: list[str]) -> dict[str, int]:
        """Ready messages per queue (passive declares: exact, no statistics delay)."""
        conn = connect(self.rabbitmq_url, "fault-test-probe", heartbeat=0)
        try:
            ch = conn.channel()
            return {q: ch.queue_declare(q, passive=True).method.message_count for q in names}
        finally:
            conn.close()

    def publish_raw(self, routing_key: str, body: bytes, *, exchange: str | None = None,
                    message_id: str | None = None, headers: dict | None = None,
                    copies: int = 1) -> None:
        """Publish persistent + mandatory with confirms onto the suite's exchange, like a relay."""
        self.publish_batch([(routing_key, body, message_id, headers)] * copies, exchange=exchange)

    def publish_batch(self, messages: list[tuple[str, bytes, str | None, dict | None]], *,
                      exchange: str | None = None) -> None:
        """Publish ``(routing key, body, message id, headers)`` in order, each confirmed."""
        conn = connect(self.rabbitmq_url, "fault-test-publisher", heartbeat=0)
        try:
            ch = conn.channel()
            ch.confirm_delivery()
            for routing_key, body, message_id, headers in messages:
                props = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                             message_id=message_id, type=routing_key,
                                             headers=headers or {})
                ch.basic_publish(self.env["EVENT_EXCHANGE"] if exchange is None else exchange,
                                 routing_key, body, props, mandatory=True)
        finally:
            conn.close()

    def wait_drained(self, timeout: float = 60) -> None:
        """Every outbox published and every live queue empty, twice one second apart."""
        def quiet() -> bool:
            return not any(self.backlogs().values()) and not any(self.depths(self.queues).values())

        def quiet_twice() -> bool:
            if not quiet():
                return False
            time.sleep(1.0)
            return quiet()

        wait_until(quiet_twice, timeout=timeout, interval=0.5, message="outboxes and queues drained")

    # -- audits ------------------------------------------------------------------------------
    def baseline(self) -> Baseline:
        """Drain first: an event still on its way would be counted as the test's own."""
        self.wait_drained()
        summary = self.request("GET", "/api/dashboard/summary").json()
        top = self.sql("ticket", "SELECT coalesce(max(id), 0) FROM tickets")[0][0]
        return Baseline(top, summary["total_tickets"], Counter(summary["by_department"]))

    def stored(self, since: Baseline) -> dict[int, str | None]:
        rows = self.sql("ticket", "SELECT id, department FROM tickets WHERE id > :i",
                        i=since.max_ticket_id)
        return {r.id: r.department for r in rows}

    def audit(self, accepted: list[int], since: Baseline, timeout: float = 120) -> Audit:
        """Wait until every ticket stored since ``since`` is routed and all is drained (or time
        runs out), then count what is missing and what happened more than once."""
        try:
            wait_until(lambda: all(self.stored(since).values()), timeout=timeout, interval=0.5,
                       message="every stored ticket routed")
            self.wait_drained(timeout=60)
        except AssertionError:
            pass  # whatever is missing is counted below
        stored = self.stored(since)
        audit = Audit(accepted=len(accepted), stored=len(stored))
        audit.lost = {t for t in accepted if not stored.get(t)} | {t for t, d in stored.items() if not d}
        with ThreadPoolExecutor(8) as pool:
            for tid, autos, routed in pool.map(self._ticket_view, accepted):
                audit.add("routing_history_auto", autos - 1)
                if not routed:
                    audit.lost.add(tid)
        per_ticket: Counter = Counter()
        for row in self.sql("analytics", "SELECT ticket_id, event_type, count(*) AS n FROM event_log"
                            " WHERE ticket_id > :i GROUP BY 1, 2", i=since.max_ticket_id):
            if row.event_type in FLOW_EVENTS:
                per_ticket[row.ticket_id] += 1
                audit.add(f"event_log_{row.event_type}", row.n - 1)
        audit.lost |= {t for t in stored if per_ticket[t] < len(FLOW_EVENTS)}
        summary = self.request("GET", "/api/dashboard/summary").json()
        audit.counted = summary["total_tickets"] - since.total
        audit.add("dashboard_total", audit.counted - len(stored))
        now = Counter(summary["by_department"])
        now.subtract(since.by_department)
        audit.by_department = {k: v for k, v in now.items() if v}
        audit.expected_by_department = dict(Counter(d for d in stored.values() if d))
        return audit

    def _ticket_view(self, tid: int) -> tuple[int, int, bool]:
        routed = bool(self.request("GET", f"/api/tickets/{tid}").json().get("department"))
        history = self.request("GET", f"/api/routing/history/{tid}").json().get("history", [])
        return tid, sum(1 for h in history if h["method"] == "auto"), routed

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self.http.close()
