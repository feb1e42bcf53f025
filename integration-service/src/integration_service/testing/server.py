"""A threaded HTTP server on 127.0.0.1 with a random port, for the fakes of this package."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

Reply = tuple[int, dict[str, str], bytes]


class Request:
    def __init__(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        parts = urlsplit(handler.path)
        self.method = handler.command
        self.path = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.headers = dict(handler.headers.items())
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    headers = {"Content-Type": "application/json", **(headers or {})}
    return status, headers, json.dumps(body).encode()


class LocalServer:
    """Serves ``respond(request) -> (status, headers, body)`` until ``close()``."""

    def __init__(self, respond: Callable[[Request], Reply]) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self, self.rfile.read(length) if length else b"")
                status, headers, body = outer.respond(request)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass   # the client gave up (a timeout test): nothing to answer

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *_args: object) -> None:
                return

        self.respond = respond
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
