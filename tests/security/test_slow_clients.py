"""Slow clients (half a header, half a body) neither freeze a web process nor hold it forever."""
from __future__ import annotations

import selectors
import socket
import statistics
import time
from contextlib import ExitStack

import requests


HALF_HEADERS = 1000
HALF_BODIES = 200
PROBES = 100
PROBE_BOUND_S = 2.0      # the target is p99 <= 100 ms; this bound only keeps the test steady
CLOSED_WITHIN_S = 20.0   # the deadlines are 10-11 s


def _connect(stack: ExitStack, base: str, payload: bytes) -> socket.socket:
    host, port = base.rsplit("/", 1)[1].split(":")
    sock = stack.enter_context(socket.create_connection((host, int(port)), timeout=5))
    sock.sendall(payload)
    sock.setblocking(False)
    return sock


def _stall(stack: ExitStack, base: str, body_path: str, headers: str) -> list[socket.socket]:
    half_header = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "
    half_body = (f"POST {body_path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"{headers}Content-Length: 1000\r\n\r\n" + '{"title": "').encode()
    socks = [_connect(stack, base, half_header) for _ in range(HALF_HEADERS)]
    socks += [_connect(stack, base, half_body) for _ in range(HALF_BODIES)]
    return socks


def _probe(session: requests.Session, url: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    resp = session.get(url, headers=headers, timeout=PROBE_BOUND_S * 2)
    elapsed = time.perf_counter() - started
    assert resp.status_code == 200, resp.text
    return elapsed


def _wait_all_closed(socks: list[socket.socket], deadline: float) -> int:
    """Read each stalled socket until the server closes it; the number still open at the end."""
    sel = selectors.DefaultSelector()
    for sock in socks:
        sel.register(sock, selectors.EVENT_READ)
    open_count = len(socks)
    while open_count and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            try:
                data = key.fileobj.recv(65536)
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                open_count -= 1
    sel.close()
    return open_count


def _run(served, body_path: str, auth_path: str, auth: dict[str, str]) -> None:
    headers_line = "".join(f"{k}: {v}\r\n" for k, v in auth.items())
    with ExitStack() as stack, requests.Session() as session:
        started = time.monotonic()
        socks = _stall(stack, served.base, body_path, headers_line)
        times = []
        for _ in range(PROBES // 2):
            times.append(_probe(session, served.base + "/health", {}))
            times.append(_probe(session, served.base + auth_path, auth))
        times.sort()
        p50, p99 = statistics.median(times), times[int(len(times) * 0.99) - 1]
        print(f"\n{served.base}: {len(times)} probes beside {len(socks)} stalled sockets: "
              f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms")
        assert times[-1] < PROBE_BOUND_S
        still_open = _wait_all_closed(socks, started + CLOSED_WITHIN_S)
        print(f"all stalled sockets closed after {time.monotonic() - started:.1f} s")
        assert still_open == 0


def test_gateway_answers_beside_stalled_clients_and_closes_them(gateway, api_key) -> None:
    _run(gateway, "/api/tickets", "/api/tickets", {"Authorization": f"Bearer {api_key}"})


def test_ticket_service_answers_beside_stalled_clients_and_closes_them(ticket_web,
                                                                      internal_token) -> None:
    auth = {"X-Tenant-ID": "sec", "X-Internal-Token": internal_token}
    _run(ticket_web, "/api/tickets", "/api/tickets?limit=1", auth)
