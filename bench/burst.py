"""The burst phase: creates at 100 connections for 20 s while a low open-loop stream of creates
(20/s) runs beside it and goes on after it; then, from each low-stream ticket's own history, how
long after the burst the create->routed p95 took to come back within the target."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import requests

import loadgen
import timeline
from phases import Context, closed_loop
from pipeline import Gateway, owed, routed_at, unrouted, wait_counted
from procs import CpuWindow
from results import LoadResult, summarize_ms

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BurstSettings:
    burst_s: float = 20.0
    low_rate: float = 20.0        # creates/s of the low stream
    cap_s: float = 60.0           # the low stream ends at most this long after the burst
    threshold_ms: float = 200.0   # create->routed p95 counted as recovered
    hold_s: float = 5.0           # ... when it holds this long
    window_s: float = 1.0         # p95 over windows this wide (by creation time) ...
    step_s: float = 0.5           # ... sliding by this much


class LowStream:
    """The open-loop stream in its own thread (its own event loop) until ``stop()``."""

    def __init__(self, ctx: Context, rate: float, max_s: float) -> None:
        self.tally = loadgen.Tally()
        self._stop = threading.Event()
        self._args = (ctx.base_url, ctx.key, ctx.body_factory())
        self._rate, self._max_s = rate, max_s
        self._outcome: LoadResult | BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="low-stream", daemon=True)

    def _run(self) -> None:
        try:
            self._outcome, _ = loadgen.open_loop(*self._args, rate=self._rate,
                                                 duration_s=self._max_s, stop=self._stop,
                                                 tally=self.tally)
        except BaseException as exc:  # handed to the caller by stop()
            self._outcome = exc

    def start(self) -> "LowStream":
        self._thread.start()
        return self

    def stop(self) -> LoadResult:
        self._stop.set()
        self._thread.join(timeout=loadgen.TIMEOUT_S + 30)
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        if self._outcome is None:
            raise RuntimeError("the low stream did not end")
        return self._outcome


def _probe(gw: Gateway, tally: loadgen.Tally, older_than: float) -> tuple[float, float | None]:
    """(created_at, create->routed s or None if not routed) of the newest low-stream ticket
    answered before ``older_than``."""
    recent = tally.created[-64:]   # a copy: the stream's thread appends meanwhile
    ticket_id = next((i for i in reversed(recent)
                      if tally.created_at.get(i, older_than) < older_than), None)
    if ticket_id is None:
        raise LookupError("no low-stream ticket old enough")
    created, routed = routed_at({ticket_id: gw.get(f"/api/tickets/{ticket_id}")},
                                [ticket_id])[ticket_id]
    return created, None if routed is None else routed - created


def watch(gw: Gateway, tally: loadgen.Tally, burst_end: float, s: BurstSettings) -> bool:
    """When to end the low stream, by one GET a second of its newest ticket at least 1 s old
    (the figure itself comes from every ticket afterwards): once such probes stayed within
    the target for ``hold_s + window_s`` of creation time, twice that again. False at the cap."""
    good_since = None
    while time.time() < burst_end + s.cap_s:
        time.sleep(1.0)
        try:
            created, latency = _probe(gw, tally, time.time() - 1.0)
        except (LookupError, requests.RequestException) as exc:   # KeyError: no created_at
            logger.info("burst: no probe (%r)", exc)
            continue
        if latency is None or latency > s.threshold_ms / 1000:
            good_since = None
            continue
        good_since = created if good_since is None else good_since
        if created - good_since >= s.hold_s + s.window_s:
            time.sleep(max(0.0, min(s.hold_s + s.window_s, burst_end + s.cap_s - time.time())))
            return True
    return False


def _wait_for_earlier(ctx: Context, deadline_s: float) -> dict[str, Any]:
    """Let earlier phases' tickets finish routing first, so the burst starts on a quiet pipeline."""
    base = ctx.gw.counters()
    behind = owed(ctx.start_counters or base, base, ctx.accepted)
    took, _ = wait_counted(ctx.gw, base, 0, deadline_s, owed=behind)
    return {"earlier_tickets_unrouted_at_start": behind.__dict__,
            "waited_for_earlier_s": round(took, 1) if took is not None else None}


def _low_samples(low: LoadResult, tally: loadgen.Tally,
                 times: dict[int, tuple[float, float | None]]) -> list[timeline.Sample]:
    """(created_at, create->routed s) per low-stream ticket; a failed create or a ticket not
    routed counts as unbounded (None), at the time it was sent or answered."""
    out: list[timeline.Sample] = []
    for i in tally.created:
        created, routed = times.get(i, (tally.created_at[i], None))
        out.append((created, None if routed is None else routed - created))
    out += [(t - latency, None) for t, latency, status in low.answers if status != 201]
    return out


@dataclass
class _Loads:
    t0: float
    burst_end: float
    stream_end: float
    burst: LoadResult
    low: LoadResult
    low_tally: loadgen.Tally

    @property
    def ids(self) -> list[int]:
        return self.burst.created_ids + self.low_tally.created


def _load(ctx: Context, s: BurstSettings) -> _Loads:
    low = LowStream(ctx, s.low_rate, s.burst_s + s.cap_s + 5).start()
    t0 = time.time()
    try:
        result = closed_loop(ctx, "create", ctx.bodies_file, None, s.burst_s)
        burst_end = time.time()
        logger.info("burst: %s creates/s, p99 %s ms; the low stream goes on",
                    result.as_dict()["ok_per_s"], result.latency_ms.get("p99"))
        watch(ctx.gw, low.tally, burst_end, s)
    finally:
        low_result = low.stop()
    return _Loads(t0, burst_end, time.time(), result, low_result, low.tally)


def _recovery(loads: _Loads, times: dict[int, tuple[float, float | None]],
              s: BurstSettings) -> dict[str, Any]:
    samples = _low_samples(loads.low, loads.low_tally, times)
    recovery = timeline.recovery_s(samples, loads.burst_end, threshold_s=s.threshold_ms / 1000,
                                   window_s=s.window_s, step_s=s.step_s, hold_s=s.hold_s,
                                   stream_end=loads.stream_end)
    after_s = round(loads.stream_end - loads.burst_end, 1)
    # the burst's own answers (none from wrk), the low stream's create latency beside them
    series = timeline.phase_series(loads.t0, answers=loads.burst.answers, server=times,
                                   latency_ids=loads.low_tally.created)
    series["low_latency_p95_ms"] = timeline.percentiles_ms(
        ((t, latency) for t, latency, status in loads.low.answers if status), loads.t0,
        len(series["t_s"]))
    return {
        "burst": loads.burst.as_dict(),
        "low_stream": loads.low.as_dict() | {
            "created_to_routed_ms": summarize_ms([v for _, v in samples if v is not None]),
            "not_measured": sum(1 for _, v in samples if v is None),
            "after_burst_s": after_s},
        "recovery_s": recovery,
        "recovery": (f"{recovery} s after the burst" if recovery is not None else
                     f"not recovered within {after_s} s after the burst"),
        "timeseries": series | {
            "burst_end_s": round(loads.burst_end - loads.t0, 2),
            "recovered_at_s": None if recovery is None else
            round(loads.burst_end - loads.t0 + recovery, 2)},
    }


def run(ctx: Context, s: BurstSettings, deadline_s: float) -> dict[str, Any]:
    """The burst with the low stream beside it; recovery time from the low stream's tickets."""
    gw = ctx.gw
    out: dict[str, Any] = {"settings": asdict(s) | {"connections": ctx.connections}}
    out |= _wait_for_earlier(ctx, deadline_s)
    base = gw.counters()
    queues, window = ctx.sampler(), CpuWindow(ctx.pids)
    loads = _load(ctx, s)
    ids = loads.ids
    ctx.accepted += len(ids)
    took, delta = wait_counted(gw, base, len(ids), deadline_s)
    out["resources"] = window.stop(time.time() - loads.t0, per=len(ids))
    out["queues"] = queues.stop()
    missing, tickets = unrouted(gw, ids, 5.0 if took is not None else 1.0)
    out |= _recovery(loads, routed_at(tickets, ids), s)
    out |= {"drained_after_s": round(took, 1) if took is not None else None,
            "counted": delta.__dict__,
            "lost": len(missing) if took is not None else None,
            "unrouted_at_deadline": len(missing)}
    logger.info("burst: recovery %s; low stream create->routed p95 %s ms", out["recovery"],
                out["low_stream"]["created_to_routed_ms"]["p95"])
    return out
