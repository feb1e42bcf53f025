"""A fake helpdesk: a Zendesk-style incremental cursor export and a generic JSON API paged
by page numbers, by cursors in the body, or by ``Link`` headers; with scripted faults (429
with Retry-After, 5xx) and a gate that holds one request (to kill a job mid-run)."""
from __future__ import annotations

import threading
from typing import Any

from .server import LocalServer, Reply, Request, json_reply

ZENDESK_PATH = "/api/v2/incremental/tickets/cursor.json"


def ticket(number: int, **fields: Any) -> dict[str, Any]:
    """A Zendesk-shaped ticket record."""
    record = {"id": number, "subject": f"Ticket {number}", "description": f"Body {number}",
              "priority": "normal", "tags": ["imported"], "updated_at": "2026-01-01T00:00:00Z",
              "via": {"source": {"from": {"name": f"User {number}",
                                          "address": f"user{number}@example.com"}}}}
    record.update(fields)
    return record


class FakeHelpdesk:
    def __init__(self, records: list[dict[str, Any]] | None = None, *, page_size: int = 2,
                 token: str | None = None) -> None:
        self.records = list(records or [])
        self.page_size = page_size
        self.token = token
        self.requests: list[Request] = []
        self.faults: list[tuple[int, dict[str, str]]] = []
        self.hold_at: int | None = None     # the request number (1-based) to hold
        self.holding = threading.Event()    # set while that request is held
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.server = LocalServer(self.respond)

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.release.set()
        self.server.close()

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.faults.extend([(status, headers)] * times)

    def respond(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
            number = len(self.requests)
            fault = self.faults.pop(0) if self.faults else None
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return json_reply(401, {"error": "unauthorized"})
        if number == self.hold_at:
            self.holding.set()
            self.release.wait(60)
        if fault:
            return json_reply(fault[0], {"error": "fault"}, fault[1])
        return self.route(request)

    def _slice(self, offset: int, size: int) -> list[dict[str, Any]]:
        return self.records[offset:offset + size]

    def route(self, request: Request) -> Reply:
        size = int(request.query.get("per_page", self.page_size))
        if request.path == ZENDESK_PATH:
            offset = int(request.query.get("cursor", "c0")[1:])
            chunk = self._slice(offset, self.page_size)
            after = offset + len(chunk)
            return json_reply(200, {"tickets": chunk, "after_cursor": f"c{after}",
                                    "before_cursor": f"c{offset}",
                                    "end_of_stream": after >= len(self.records)})
        if request.path == "/pages":
            page = int(request.query.get("page", "1"))
            return json_reply(200, {"data": self._slice((page - 1) * size, size)})
        if request.path == "/cursors":
            offset = int(request.query.get("cursor", "0"))
            after = offset + size
            following = str(after) if after < len(self.records) else None
            return json_reply(200, {"data": self._slice(offset, size),
                                    "meta": {"next_cursor": following}})
        if request.path == "/links":
            offset = int(request.query.get("offset", "0"))
            after = offset + size
            headers = ({"Link": f'</links?offset={after}&per_page={size}>; rel="next"'}
                       if after < len(self.records) else {})
            return json_reply(200, self._slice(offset, size), headers)
        return json_reply(404, {"error": "no such path"})

    def paths(self) -> list[str]:
        return [f"{r.path}?{'&'.join(f'{k}={v}' for k, v in sorted(r.query.items()))}"
                for r in self.requests]

    def wait_holding(self, timeout: float = 60) -> bool:
        return self.holding.wait(timeout)
