"""Strict JSON request bodies: a nesting limit checked before the parser recurses, duplicate keys
refused, and a body read that turns a stalled client into 408."""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable

from werkzeug.exceptions import RequestTimeout

MAX_DEPTH = 32
# A JSON string (skipped whole, so brackets inside it do not count) or one bracket.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class BodyError(ValueError):
    """A body the API refuses: ``code`` is the error code, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_depth(data: bytes, limit: int = MAX_DEPTH) -> None:
    """Refuse arrays and objects nested deeper than ``limit``, without parsing."""
    depth = 0
    for match in _TOKENS.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                raise BodyError("validation_error", f"JSON nested deeper than {limit} levels")
        elif token in (b"]", b"}"):
            depth -= 1


def _unique_keys(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise BodyError("validation_error", f"duplicate key {key!r} in JSON object")
        result[key] = value
    return result


def loads(data: bytes, limit: int = MAX_DEPTH) -> Any:
    """Parse a request body: BodyError for bad JSON, deep nesting or a repeated key."""
    check_depth(data, limit)
    try:
        return json.loads(data, object_pairs_hook=_unique_keys)
    except BodyError:
        raise
    except (ValueError, RecursionError) as exc:     # UnicodeDecodeError is a ValueError
        raise BodyError("malformed_json", "request body is not valid JSON") from exc


class DeadlineInput:
    """``wsgi.input`` whose read timeouts (a client that stopped sending) become a 408."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _guard(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except TimeoutError as exc:
            raise RequestTimeout("the client stopped sending the request body") from exc

    def read(self, *args: Any) -> bytes:
        return self._guard(self._stream.read, *args)

    def readline(self, *args: Any) -> bytes:
        return self._guard(self._stream.readline, *args)

    def readlines(self, *args: Any) -> list[bytes]:
        return self._guard(self._stream.readlines, *args)

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class DeadlineMiddleware:
    """WSGI middleware wrapping ``wsgi.input`` in ``DeadlineInput``."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        stream = environ.get("wsgi.input")
        if stream is not None:
            environ["wsgi.input"] = DeadlineInput(stream)
        return self.app(environ, start_response)
