"""Fixtures of the unit tests: ``gateway``, a stand-in for the gateway's ``POST /api/tickets``
and ``POST /api/tickets/batch`` over real HTTP (werkzeug, in a thread).

Batches: an item is upserted by (source, external_id): created, unchanged or updated; an
item whose description holds ``reject`` is that item's error; a batch holding a throttled or
unavailable description is answered 429 or 503 as a whole.

It behaves as the real one does where the importer cares: Bearer auth (401), Idempotency-Key
replays (200 or 201 + ``Idempotent-Replayed``; 422 when a key comes back with another body),
409 + Retry-After while the same key is in flight, 429 + Retry-After, and JSON errors.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import threading
from dataclasses import dataclass, field

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

GOOD_KEY = "tts_good_key"


@dataclass
class Post:
    key: str | None
    body: dict


@dataclass
class FakeGateway:
    throttle: set[str] = field(default_factory=set)      # descriptions: 429 once
    in_flight: set[str] = field(default_factory=set)     # descriptions: 409 once
    unavailable: set[str] = field(default_factory=set)   # descriptions: always 503
    reject: str = "reject me"                            # a description containing it: 422
    retry_after: str = "1"
    unavailable_retry_after: str | None = "0"               # None: a 503 without Retry-After
    posts: list[Post] = field(default_factory=list)
    batches: list[list[dict]] = field(default_factory=list)
    exported: list[dict] = field(default_factory=list)      # GET /api/tickets/export serves
    exports: list[dict] = field(default_factory=list)       # the query of each export request
    external: dict[tuple[str, str], dict] = field(default_factory=dict)
    tickets: dict[str, dict] = field(default_factory=dict)   # idempotency key -> ticket
    url: str = ""
    key: str = GOOD_KEY

    def __post_init__(self) -> None:
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.replays = itertools.count()

    @staticmethod
    def error(status: int, code: str, message: str, headers: dict | None = None,
              details: object = None) -> Response:
        body = {"error": {"code": code, "message": message, "details": details}}
        return Response(json.dumps(body), status=status, content_type="application/json",
                        headers=headers or {})

    def __call__(self, environ, start_response):
        req = Request(environ)
        with self.lock:
            resp = self.handle(req)
        return resp(environ, start_response)

    def handle(self, req: Request) -> Response:
        if (req.method, req.path) == ("GET", "/api/health"):
            return Response('{"status": "healthy"}', content_type="application/json")
        if (req.method, req.path) == ("GET", "/api/tickets/export"):
            return self.export(req)
        if req.method != "POST" or req.path not in ("/api/tickets", "/api/tickets/batch"):
            return self.error(404, "not_found", "no such route")
        if req.headers.get("Authorization") != f"Bearer {self.key}":
            return self.error(401, "invalid_api_key", "unknown or revoked API key")
        if req.path == "/api/tickets/batch":
            return self.batch(req.get_json()["tickets"])
        body = req.get_json()
        key = req.headers.get("Idempotency-Key")
        self.posts.append(Post(key, body))
        text = body["description"]
        for once, status, code in ((self.throttle, 429, "rate_limited"),
                                   (self.in_flight, 409, "idempotency_conflict")):
            if text in once:
                once.discard(text)
                return self.error(status, code, "try later", {"Retry-After": self.retry_after})
        if text in self.unavailable:
            after = self.unavailable_retry_after
            return self.error(503, "service_unavailable", "ticket-service is down",
                              {"Retry-After": after} if after is not None else {})
        if self.reject in text:
            return self.error(422, "validation_error", "request body is invalid",
                              details=[{"field": "description", "message": "rejected"}])
        if key in self.tickets:
            ticket = self.tickets[key]
            if {k: ticket[k] for k in body} != body:
                return self.error(422, "idempotency_key_reused", "key used for another body")
            # Both replay shapes are accepted by the importer: 201 + header, or 200.
            if next(self.replays) % 2:
                return Response(json.dumps(ticket), status=200, content_type="application/json")
            return Response(json.dumps(ticket), status=201, content_type="application/json",
                            headers={"Idempotent-Replayed": "true"})
        ticket = {"id": next(self.ids), "priority": "medium", **body}
        if key:
            self.tickets[key] = ticket
        return Response(json.dumps(ticket), status=201, content_type="application/json")

    def export(self, req: Request) -> Response:
        """``exported`` after the cursor (its index), up to ``limit``, as JSON Lines or CSV."""
        if req.headers.get("Authorization") != f"Bearer {self.key}":
            return self.error(401, "invalid_api_key", "unknown or revoked API key")
        query = req.args.to_dict()
        self.exports.append(query)
        start = int(query.get("cursor", "-1")) + 1
        page = list(enumerate(self.exported))[start:start + int(query.get("limit", "10000"))]
        if query.get("format") == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["id", "description", "cursor"])
            writer.writerows([t["id"], t["description"], str(i)] for i, t in page)
            return Response(out.getvalue(), content_type="text/csv; charset=utf-8")
        return Response("".join(json.dumps({"ticket": t, "cursor": str(i)}) + "\n"
                                for i, t in page), content_type="application/x-ndjson")

    def batch(self, items: list[dict]) -> Response:
        self.batches.append(items)
        texts = {item["description"] for item in items}
        if texts & self.throttle:
            self.throttle -= texts
            return self.error(429, "rate_limited", "try later", {"Retry-After": self.retry_after})
        if texts & self.unavailable:
            return self.error(503, "service_unavailable", "ticket-service is down",
                              {"Retry-After": self.unavailable_retry_after or "0"})
        return Response(json.dumps({"results": [self.upsert(i, item)
                                                for i, item in enumerate(items)]}),
                        content_type="application/json")

    def upsert(self, index: int, item: dict) -> dict:
        if self.reject in item["description"]:
            return {"index": index, "status": "error", "error": {
                "code": "validation_error", "message": "item is invalid",
                "details": [{"field": "description", "message": "rejected"}]}}
        key = (item["source"], item["external_id"])
        ticket = self.external.get(key)
        if ticket is None:
            ticket = self.external[key] = {"id": next(self.ids), "version": 1, **item}
            return {"index": index, "status": "created", "id": ticket["id"], "version": 1}
        status = "unchanged"
        if any(ticket.get(k) != v for k, v in item.items()):
            ticket.update(item, version=ticket["version"] + 1)
            status = "updated"
        return {"index": index, "status": status, "id": ticket["id"],
                "version": ticket["version"]}


@pytest.fixture
def gateway():
    """A ``FakeGateway`` listening on a free port for the test."""
    fake = FakeGateway()
    # werkzeug logs each request from its own threads; under CliRunner that stream may
    # already be closed, and the "--- Logging error ---" report lands in the command output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, fake, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}"
    yield fake
    server.shutdown()
    thread.join(5)
