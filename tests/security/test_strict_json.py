"""Request bodies are parsed strictly: nesting depth, duplicate keys, size of a chunked body, and
control or invisible-only text in titles and names (against a real ticket-service web)."""
from __future__ import annotations

import pytest
import requests

TICKET = {"title": "Printer on fire", "description": "smoke", "user_name": "Ana",
          "user_email": "ana@example.com"}


def _post(ticket_web, internal_token, data, **headers) -> requests.Response:
    return requests.post(ticket_web.base + "/api/tickets", data=data, timeout=10,
                         headers={"Content-Type": "application/json", "X-Tenant-ID": "sec",
                                  "X-Internal-Token": internal_token, **headers})


@pytest.mark.parametrize("depth", [100, 1000, 20_000])
def test_deep_nesting_is_a_400(ticket_web, internal_token, depth) -> None:
    resp = _post(ticket_web, internal_token, b"[" * depth + b"]" * depth)

    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "validation_error"
    assert "nested" in resp.json()["error"]["message"]


def test_duplicate_keys_are_refused(ticket_web, internal_token) -> None:
    body = b'{"title": "a", "title": "b", "description": "d", "user_name": "n", ' \
           b'"user_email": "n@example.com"}'

    resp = _post(ticket_web, internal_token, body)

    assert resp.status_code == 400, resp.text
    assert "duplicate key 'title'" in resp.json()["error"]["message"]


def test_chunked_body_over_the_limit_is_a_413(ticket_web, internal_token) -> None:
    chunks = (b" " * 8192 for _ in range(16))     # 128 KiB, limit 64 KiB, no Content-Length

    resp = _post(ticket_web, internal_token, chunks)

    assert resp.status_code == 413, resp.text
    assert resp.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("field,value", [
    ("title", "\u200b"), ("title", "\x1b[2J\x1b[31mpwned"), ("title", "bell\x07"),
    ("title", "right\u202eleft"), ("title", "\u3164"), ("user_name", "\u200b\u200c"),
    ("user_name", "line\nbreak"),
])
def test_control_and_invisible_text_is_refused(ticket_web, internal_token, field, value) -> None:
    import json

    resp = _post(ticket_web, internal_token, json.dumps({**TICKET, field: value}))

    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["details"][0]["field"] == field


def test_chunked_body_over_the_limit_is_a_413_at_the_gateway(gateway, api_key) -> None:
    chunks = (b" " * 8192 for _ in range(16))

    resp = requests.post(gateway.base + "/api/tickets", data=chunks, timeout=10,
                         headers={"Content-Type": "application/json",
                                  "Authorization": f"Bearer {api_key}"})

    assert resp.status_code == 413, resp.text
    assert resp.json()["error"]["code"] == "payload_too_large"
