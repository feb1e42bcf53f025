"""The bench's measurements, one function each: creation under load (with the loss check),
reads, steady-rate latency, drain, memory (the burst phase is in burst.py). Each returns a
JSON-ready dict, with a ``timeseries`` of 1 s windows (timeline.phase_series)."""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from support_shared.events import PRIORITIES, STATUSES

import loadgen
import wrk_driver
import timeline
from pipeline import (Counters, Gateway, created_to_routed_s, owed, routed_at, unrouted,
                      wait_counted)
from procs import CpuWindow, memory_report
from queues import QueueSampler
from results import LoadResult, summarize_ms

logger = logging.getLogger(__name__)

DEPARTMENTS = ("IT Support", "HR", "Facilities", "Finance", "General")


@dataclass
class Context:
    base_url: str
    key: str | None
    pids: dict[str, int]
    bodies: list[dict[str, str]]
    bodies_file: Path
    work_dir: Path
    generator: str           # "wrk" or "python"
    rabbitmq_url: str
    queue_prefix: str = ""
    connections: int = 100
    start_counters: Counters | None = None   # routed counters when the bench began
    accepted: int = 0                         # tickets the bench created so far (201s)

    @property
    def gw(self) -> Gateway:
        return Gateway(self.base_url, self.key)

    def sampler(self) -> QueueSampler:
        return QueueSampler(self.rabbitmq_url, self.queue_prefix).start()

    def body_factory(self) -> loadgen.RequestFactory:
        encoded = [json.dumps(b).encode() for b in self.bodies]
        return lambda i: ("POST", "/api/tickets", encoded[(i * 7919) % len(encoded)])


def closed_loop(ctx: Context, mode: str, input_path: Path, paths: list[str] | None,
                 duration_s: float) -> LoadResult:
    if ctx.generator == "wrk":
        return wrk_driver.run(ctx.base_url, mode, input_path, key=ctx.key,
                              connections=ctx.connections, duration_s=duration_s)
    if mode == "create":
        factory = ctx.body_factory()
    else:
        assert paths is not None
        factory = lambda i: ("GET", paths[(i * 7919) % len(paths)], None)  # noqa: E731
    return loadgen.closed_loop(ctx.base_url, ctx.key, factory, connections=ctx.connections,
                               duration_s=duration_s)


def create(ctx: Context, duration_s: float, drain_deadline_s: float) -> dict[str, Any]:
    """Closed-loop creation at ``ctx.connections``, then: is every accepted ticket routed?"""
    gw = ctx.gw
    base = gw.counters()
    queues = ctx.sampler()
    window = CpuWindow(ctx.pids)
    t0 = time.time()
    result = closed_loop(ctx, "create", ctx.bodies_file, None, duration_s)
    out = result.as_dict()
    out["resources"] = window.stop(result.duration_s, per=result.ok)
    ids = result.created_ids
    ctx.accepted += len(ids)
    logger.info("create: %s/s ok, p99 %s ms, %d non-2xx, errors %s; waiting for %d routings",
                out["ok_per_s"], out["latency_ms"].get("p99"), result.non_2xx,
                result.socket_errors, len(ids))
    took, delta = wait_counted(gw, base, len(ids), drain_deadline_s)
    out["queues"] = queues.stop()
    missing, tickets = unrouted(gw, ids, 5.0 if took is not None else 1.0)
    out["timeseries"] = timeline.phase_series(t0, answers=result.answers,
                                              server=routed_at(tickets, ids))
    out["drained_after_s"] = round(took, 1) if took is not None else None
    out["counted"] = delta.__dict__
    # Only a drained pipeline tells lost from late: past the deadline they are just unrouted.
    out["lost"] = len(missing) if took is not None else None
    out["unrouted_at_deadline"] = len(missing)
    out["lost_ids_sample"] = missing[:20]
    out["ids"] = ids
    return out


def _read_paths(gw: Gateway, ids: list[int], rng: random.Random) -> tuple[list[str], list[str]]:
    """GET-by-id paths for known tickets; filtered list pages (first and second pages)."""
    if not ids:
        ids = [t["id"] for t in gw.get("/api/tickets", limit=200)["tickets"]]
    by_id = [f"/api/tickets/{i}" for i in rng.sample(ids, min(len(ids), 2000))]
    lists = []
    for status in STATUSES[:2]:
        for priority in PRIORITIES:
            for department in (None, *DEPARTMENTS):
                query = {"status": status, "priority": priority, "limit": 20}
                if department:
                    query["department"] = department
                lists.append("/api/tickets?" + urlencode(query))
                cursor = gw.get("/api/tickets", **query).get("next_cursor")
                if cursor:
                    lists.append("/api/tickets?" + urlencode({**query, "cursor": cursor}))
    return by_id, lists


def reads(ctx: Context, ids: list[int], duration_s: float) -> dict[str, Any]:
    """GET /api/tickets/{id} and filtered, paginated GET /api/tickets, closed loop each."""
    by_id, lists = _read_paths(ctx.gw, ids, random.Random(11))
    out = {}
    for name, paths in (("get_by_id", by_id), ("list_filtered", lists)):
        path_file = ctx.work_dir / f"{name}.paths"
        path_file.write_text("".join(p + "\n" for p in paths))
        window = CpuWindow(ctx.pids)
        t0 = time.time()
        result = closed_loop(ctx, "get", path_file, paths, duration_s)
        out[name] = result.as_dict() | {
            "distinct_paths": len(paths), "resources": window.stop(result.duration_s),
            "timeseries": timeline.phase_series(t0, answers=result.answers)}
        logger.info("%s: %s/s, p99 %s ms, %d non-2xx", name, out[name]["requests_per_s"],
                    out[name]["latency_ms"].get("p99"), result.non_2xx)
    return out


def steady(ctx: Context, rate: float, duration_s: float, deadline_s: float) -> dict[str, Any]:
    """Open loop at ``rate`` creates/s: create latency, then create->routed per ticket."""
    queues = ctx.sampler()
    window = CpuWindow(ctx.pids)
    t0 = time.time()
    result, tally = loadgen.open_loop(ctx.base_url, ctx.key, ctx.body_factory(), rate=rate,
                                      duration_s=duration_s)
    out = result.as_dict()
    out["resources"] = window.stop(result.duration_s, per=result.ok)
    ctx.accepted += len(tally.created)
    missing, tickets = unrouted(ctx.gw, tally.created, deadline_s)
    out["queues"] = queues.stop()
    durations, skipped = created_to_routed_s(tickets, tally.created)
    out["created_to_routed_ms"] = summarize_ms(durations)
    out["timeseries"] = timeline.phase_series(t0, answers=result.answers,
                                              server=routed_at(tickets, tally.created),
                                              latency_ids=tally.created)
    out["not_measured"] = skipped   # unrouted at the deadline or changed after routing
    out["unrouted_at_deadline"] = len(missing)
    logger.info("steady: create p50 %s p95 %s ms; routed p50 %s p95 %s p99 %s ms",
                out["latency_ms"]["p50"], out["latency_ms"]["p95"],
                out["created_to_routed_ms"]["p50"], out["created_to_routed_ms"]["p95"],
                out["created_to_routed_ms"]["p99"])
    return out


def drain(ctx: Context, count: int, connections: int, budget: Any,
          reserve_s: float) -> dict[str, Any]:
    """``count`` tickets as fast as possible; time until all are routed and counted. When the
    bench's time budget ends first, the routed rate so far is reported instead."""
    gw = ctx.gw
    base = gw.counters()
    # Tickets of earlier phases still unrouted (their wait timed out) are waited for too.
    behind = owed(ctx.start_counters or base, base, ctx.accepted)
    queues = ctx.sampler()
    window = CpuWindow(ctx.pids)
    started, t0 = time.monotonic(), time.time()
    result, tally = loadgen.fixed_count(ctx.base_url, ctx.key, ctx.body_factory(), count=count,
                                        connections=connections,
                                        time_limit_s=budget.remaining() - reserve_s - 5)
    created_s = time.monotonic() - started
    accepted = len(tally.created)
    logger.info("drain: %d created in %.1fs (%d non-2xx); waiting", accepted, created_s,
                result.non_2xx)
    took, delta = wait_counted(gw, base, accepted, max(1.0, budget.remaining() - reserve_s),
                               interval_s=0.25, owed=behind)
    total_s = time.monotonic() - started
    out: dict[str, Any] = {
        "count": count, "accepted": accepted, "create": result.as_dict(),
        "earlier_tickets_unrouted_at_start": behind.__dict__,
        "create_s": round(created_s, 1), "counted": delta.__dict__,
        "done": took is not None,
        "end_to_end_s": round(created_s + took, 1) if took is not None else None,
        # Unfinished within the budget: the rate at which tickets got routed and counted.
        "tickets_per_s": round(accepted / (created_s + took), 1) if took is not None else
        round(max(0, min(delta.routing_routed - behind.routing_routed,
                         delta.analytics_routed - behind.analytics_routed)) / total_s, 1),
        "resources": window.stop(total_s, per=accepted),
        "queues": queues.stop(),
    }
    missing, tickets = unrouted(gw, tally.created, 5.0 if took is not None else 0.0)
    out["timeseries"] = timeline.phase_series(t0, answers=result.answers,
                                              server=routed_at(tickets, tally.created))
    out["lost"] = len(missing) if took is not None else None
    out["unrouted_at_deadline"] = len(missing)
    logger.info("drain: %s tickets/s end to end (%s s)", out["tickets_per_s"], out["end_to_end_s"])
    return out


def memory(ctx: Context) -> dict[str, Any]:
    return memory_report(ctx.pids)
