"""A webhook receiver: records every delivery (arrival time, headers, raw body) and answers
from a script: a status code, or ``"timeout"`` (answers only after ``slow_s``)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from .server import LocalServer, Reply, Request, json_reply


@dataclass(frozen=True)
class Received:
    at: float           # time.monotonic() on arrival
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    def __init__(self, script: list[Any] | None = None, *, slow_s: float = 5.0) -> None:
        self.script = list(script or [])
        self.slow_s = slow_s
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server = LocalServer(self.respond)

    @property
    def url(self) -> str:
        return self.server.url + "/hook"

    def close(self) -> None:
        self.server.close()

    def respond(self, request: Request) -> Reply:
        with self.lock:
            self.received.append(Received(time.monotonic(), request.headers, request.body))
            step = self.script.pop(0) if self.script else 200
        if step == "timeout":
            time.sleep(self.slow_s)
            step = 200
        return json_reply(int(step), {"ok": step < 300})

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        """The first ``count`` deliveries, polling until they arrived (or AssertionError)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.received)} deliveries of {count} within {timeout}s")
