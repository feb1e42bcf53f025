"""Python load generator (asyncio + aiohttp): closed loop, open loop (fixed arrival rate,
latency from the intended send time, so a slow server cannot hide its queue) and fixed count."""
from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import aiohttp

from results import LoadResult, summarize_ms

# (method, path, body) of the i-th request
RequestFactory = Callable[[int], tuple[str, str, bytes | None]]
TIMEOUT_S = 10.0


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    created_at: dict[int, float] = field(default_factory=dict)   # id -> wall time of the 201
    # (wall time of the answer, latency s, status; 0 for a socket error): per-window figures
    answers: list[tuple[float, float, int]] = field(default_factory=list)

    def to_result(self, generator: str, duration_s: float, cpu_s: float) -> LoadResult:
        return LoadResult(generator=generator, duration_s=duration_s, statuses=self.statuses,
                          socket_errors=dict(self.errors), latency_ms=summarize_ms(self.latencies),
                          created_ids=self.created, generator_cpu_s=cpu_s,
                          answers=self.answers)


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connect"
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    return "read"


async def _one(session: aiohttp.ClientSession, base: str, factory: RequestFactory, i: int,
               tally: Tally, started: float) -> None:
    method, path, body = factory(i)
    headers = {"Content-Type": "application/json"} if body is not None else None
    try:
        async with session.request(method, base + path, data=body, headers=headers) as resp:
            await resp.read()
            status, location = resp.status, resp.headers.get("Location")
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        tally.errors[_error_kind(exc)] += 1
        tally.answers.append((time.time(), time.perf_counter() - started, 0))
        return
    latency = time.perf_counter() - started
    tally.latencies.append(latency)
    tally.answers.append((time.time(), latency, status))
    tally.statuses[status] += 1
    if status == 201 and location:
        ticket_id = int(location.rstrip("/").rsplit("/", 1)[1])
        tally.created.append(ticket_id)
        tally.created_at[ticket_id] = time.time()


def _session(key: str | None, limit: int) -> aiohttp.ClientSession:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, limit_per_host=limit),
        timeout=aiohttp.ClientTimeout(total=TIMEOUT_S), headers=headers)


async def _closed(base: str, key: str | None, factory: RequestFactory, connections: int,
                  until: Callable[[int], bool], tally: Tally) -> None:
    counter = iter(range(10**9))

    async def worker() -> None:
        while True:
            i = next(counter)
            if until(i):
                return
            await _one(session, base, factory, i, tally, time.perf_counter())

    async with _session(key, connections) as session:
        await asyncio.gather(*(worker() for _ in range(connections)))


def closed_loop(base: str, key: str | None, factory: RequestFactory, *, connections: int,
                duration_s: float) -> LoadResult:
    """``connections`` workers, each sending its next request when the last one answered."""
    tally, cpu0, t0 = Tally(), time.process_time(), time.perf_counter()
    deadline = t0 + duration_s
    asyncio.run(_closed(base, key, factory, connections,
                        lambda _i: time.perf_counter() >= deadline, tally))
    return tally.to_result("python-aiohttp", time.perf_counter() - t0, time.process_time() - cpu0)


def fixed_count(base: str, key: str | None, factory: RequestFactory, *, count: int,
                connections: int, time_limit_s: float) -> tuple[LoadResult, Tally]:
    """``count`` requests as fast as ``connections`` workers can send them (fewer if
    ``time_limit_s`` runs out first)."""
    tally, cpu0, t0 = Tally(), time.process_time(), time.perf_counter()
    deadline = t0 + time_limit_s
    asyncio.run(_closed(base, key, factory, connections,
                        lambda i: i >= count or time.perf_counter() >= deadline, tally))
    result = tally.to_result("python-aiohttp", time.perf_counter() - t0,
                             time.process_time() - cpu0)
    return result, tally


async def _open(base: str, key: str | None, factory: RequestFactory, rate: float,
                duration_s: float, tally: Tally, stop: threading.Event | None) -> None:
    async with _session(key, 512) as session:
        tasks = []
        start = time.perf_counter() + 0.05
        for i in range(int(rate * duration_s)):
            if stop is not None and stop.is_set():
                break
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one(session, base, factory, i, tally, due)))
        await asyncio.gather(*tasks)


def open_loop(base: str, key: str | None, factory: RequestFactory, *, rate: float,
              duration_s: float, stop: threading.Event | None = None,
              tally: Tally | None = None) -> tuple[LoadResult, Tally]:
    """``rate`` requests a second for ``duration_s`` (or until ``stop`` is set), whatever the
    answers' speed. Pass a ``tally`` to watch the answers from another thread meanwhile."""
    tally = tally if tally is not None else Tally()
    cpu0, t0 = time.process_time(), time.perf_counter()
    asyncio.run(_open(base, key, factory, rate, duration_s, tally, stop))
    result = tally.to_result("python-aiohttp (open loop)", time.perf_counter() - t0,
                             time.process_time() - cpu0)
    return result, tally
