"""Requests gunicorn refuses before the app sees them still get the JSON error shape."""
from __future__ import annotations

import json
import socket

import pytest

CASES = {
    "header_too_long": (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
                        {400, 431}),
    "too_many_headers": (b"GET /health HTTP/1.1\r\nHost: x\r\n"
                         + b"".join(b"X-H%d: v\r\n" % i for i in range(120)) + b"\r\n", {431}),
    "bare_lf_and_cr": (b"GET /health HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n", {400}),
    "length_and_chunked": (b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {400}),
}


def _exchange(base: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    host, port = base.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("case", sorted(CASES))
def test_gunicorn_refusals_are_json(gateway, case) -> None:
    raw, statuses = CASES[case]

    status, headers, body = _exchange(gateway.base, raw)

    assert status in statuses
    assert headers["Content-Type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["code"] and error["message"]
