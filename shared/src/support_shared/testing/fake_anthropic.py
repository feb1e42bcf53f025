"""A local stand-in for the Anthropic Messages API, so tests run the real SDK without the network.

Usage::

    fake = FakeAnthropic(default=tool_use({"department": "HR", ...}))
    with fake as base_url:
        fake.enqueue(error(429), tool_use({...}))       # scripted replies, in order
        client = anthropic.Anthropic(api_key="test-key", base_url=base_url)
        ...
        assert fake.request_count == 2
        assert fake.requests[0].body["tool_choice"] == {"type": "tool", "name": "..."}

Each ``POST /v1/messages`` takes the next scripted reply, or ``default`` when the queue is
empty (a 500 if there is none). A reply can be a tool call, an error with the API's error
body and status, or either of them sent after a delay (longer than the client timeout to
simulate one).
"""
from __future__ import annotations

import itertools
import json
import logging
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)

MESSAGES_PATH = "/v1/messages"
DEFAULT_MODEL = "claude-sonnet-5-5"

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP answer; message and tool-use ids are filled in when sent."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def user_text(self) -> str:
        """All text of the user messages (string or text-block content), joined."""
        parts: list[str] = []
        for message in (self.body or {}).get("messages", []):
            if message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            else:
                parts.extend(b.get("text", "") for b in content or [] if isinstance(b, dict))
        return "\n".join(parts)

    @property
    def system_text(self) -> str:
        system = (self.body or {}).get("system", "")
        if isinstance(system, str):
            return system
        return "\n".join(b.get("text", "") for b in system if isinstance(b, dict))


def tool_use(tool_input: dict[str, Any], *, name: str = "categorize_ticket",
             model: str = DEFAULT_MODEL, input_tokens: int = 321, output_tokens: int = 42,
             delay_s: float = 0.0) -> Reply:
    """A successful answer whose only content block is a call of tool ``name``."""
    body = {
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "tool_use", "name": name, "input": tool_input}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
    return Reply(200, body, delay_s=delay_s)


def text(answer: str, *, model: str = DEFAULT_MODEL, input_tokens: int = 321,
         output_tokens: int = 42) -> Reply:
    """A successful answer with plain text and no tool call."""
    body = {
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": answer}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
    return Reply(200, body)


def error(status: int, *, error_type: str | None = None, message: str | None = None,
          retry_after: float | None = None, delay_s: float = 0.0) -> Reply:
    """An API error body with ``status``; 429 carries ``retry-after`` (default 0.05 s)."""
    kind = error_type or ERROR_TYPES.get(status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": message or f"fake {kind}"}}
    if retry_after is None and status == 429:
        retry_after = 0.05
    headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
    return Reply(status, body, headers, delay_s)


def slow(delay_s: float, then: Reply | None = None) -> Reply:
    """``then`` (a tool call with empty input if omitted) sent only after ``delay_s`` seconds."""
    return replace(then or tool_use({}), delay_s=delay_s)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], fake: "FakeAnthropic") -> None:
        super().__init__(address, _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out has gone away before the (delayed) reply: expected.
        logger.debug("fake Anthropic: client %s went away", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        logger.debug("fake Anthropic: " + format, *args)

    def do_POST(self) -> None:  # noqa: N802 (stdlib naming)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        fake = self.server.fake
        reply = fake._record_and_pick(RecordedRequest(
            "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        if self.path.split("?")[0] != MESSAGES_PATH:
            reply = error(404, message=f"fake Anthropic serves only {MESSAGES_PATH}")
        if reply.delay_s and fake._stopping.wait(reply.delay_s):
            return  # shutting down: drop the connection without answering
        self._send(reply, fake._next_id())

    def _send(self, reply: Reply, n: int) -> None:
        body = dict(reply.body)
        if reply.status == 200:
            body.setdefault("id", f"msg_fake_{n:04d}")
            body["content"] = [
                {**block, "id": block.get("id", f"toolu_fake_{n:04d}_{i}")}
                if block.get("type") == "tool_use" else block
                for i, block in enumerate(body.get("content", []))
            ]
        payload = json.dumps(body).encode()
        self.send_response(reply.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", f"req_fake_{n:04d}")
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)


class FakeAnthropic:
    """A scriptable Messages API on ``127.0.0.1``; a context manager yielding its base URL."""

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default
        self._queue: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def pending(self) -> int:
        """Scripted replies not yet used."""
        with self._lock:
            return len(self._queue)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeAnthropic is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="fake-anthropic", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record_and_pick(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            if self._queue:
                return self._queue.popleft()
        if self.default is not None:
            return self.default
        return error(500, message="FakeAnthropic: no scripted reply and no default")

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)
