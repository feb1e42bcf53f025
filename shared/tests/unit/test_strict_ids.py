"""Ids are strict: ASCII digits in paths (every service's ``int`` converter), JSON integers in
bodies (no strings, no booleans)."""
from __future__ import annotations

import pytest
from flask import Flask, jsonify
from pydantic import ValidationError

from support_shared.schemas import RouteRequest
from support_shared.web import init_app


@pytest.fixture
def client():
    app = Flask(__name__)
    init_app(app)

    @app.get("/things/<int:thing_id>")
    def thing(thing_id: int):
        return jsonify({"id": thing_id})

    return app.test_client()


@pytest.mark.parametrize("raw", ["8157", "1", str(2**63 - 1)])
def test_ascii_ids_resolve(client, raw):
    resp = client.get(f"/things/{raw}")
    assert resp.status_code == 200 and resp.json == {"id": int(raw)}


@pytest.mark.parametrize("raw", ["８１５７", "٨١٥٧", str(2**63), "-1", "+1", "1.0", "1e3",
                                 "0x10", " 1"])
def test_other_ids_are_a_json_404(client, raw):
    resp = client.get(f"/things/{raw}")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


@pytest.mark.parametrize("value", ["8157", True, False, 8157.0, "８１５７", None, [1]])
def test_a_body_id_is_a_json_integer(value):
    with pytest.raises(ValidationError):
        RouteRequest.model_validate({"ticket_id": value, "department": "HR"})
    assert RouteRequest.model_validate({"ticket_id": 8157, "department": "HR"}).ticket_id == 8157
