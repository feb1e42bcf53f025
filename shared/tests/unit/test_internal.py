"""The internal credential: refused without it (JSON 401), probes open, no start without one."""
import logging

import pytest
from flask import Flask, jsonify

from support_shared.config import CommonSettings
from support_shared.internal import (InternalTokenError, check_internal_token,
                                     require_internal_token)
from support_shared.web import ApiError, decode_cursor, encode_cursor, init_app

TOKEN = "unit-test-internal-token"


def _app(**settings) -> Flask:
    app = Flask("svc")
    init_app(app)
    require_internal_token(app, CommonSettings(**settings))

    @app.get("/api/things")
    def things():
        return jsonify({"ok": True})

    @app.get("/health")
    def health():
        return jsonify({"status": "healthy"})

    return app


@pytest.mark.parametrize("sent", [None, "", "wrong", TOKEN + "x", TOKEN[:-1], TOKEN.upper()])
def test_a_missing_or_wrong_credential_is_a_json_401(sent):
    headers = {} if sent is None else {"X-Internal-Token": sent}
    resp = _app(internal_token=TOKEN).test_client().get("/api/things", headers=headers)
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"


def test_the_right_credential_passes_and_probes_need_none():
    client = _app(internal_token=TOKEN).test_client()
    assert client.get("/api/things", headers={"X-Internal-Token": TOKEN}).status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize("token", ["", "short"])
def test_no_start_without_a_usable_credential(token):
    with pytest.raises(InternalTokenError):
        check_internal_token(CommonSettings(internal_token=token), "svc")
    with pytest.raises(InternalTokenError):
        _app(internal_token=token)


def test_the_insecure_flag_runs_unchecked_and_says_so(caplog):
    with caplog.at_level(logging.WARNING, logger="support_shared.internal"):
        client = _app(insecure_no_internal_token=True).test_client()
    assert client.get("/api/things").status_code == 200
    assert "WITHOUT an internal credential" in caplog.text


def test_settings_read_the_token_and_flag_from_the_environment(monkeypatch):
    monkeypatch.setenv("INTERNAL_API_TOKEN", TOKEN)
    monkeypatch.setenv("INSECURE_NO_INTERNAL_TOKEN", "1")
    settings = CommonSettings()
    assert settings.internal_token == TOKEN and settings.insecure_no_internal_token
    assert TOKEN not in repr(settings)


def _cursor(app: Flask, tenant: str, last_id: int) -> str:
    with app.test_request_context("/health", headers={"X-Tenant-ID": tenant}):
        app.preprocess_request()
        return encode_cursor(last_id)


def _decode(app: Flask, tenant: str, cursor: str) -> int | None:
    with app.test_request_context("/health", headers={"X-Tenant-ID": tenant}):
        app.preprocess_request()
        return decode_cursor(cursor)


def test_cursors_are_signed_per_deployment_and_tenant():
    app = _app(internal_token=TOKEN)
    replica = _app(internal_token=TOKEN)
    other = _app(internal_token="another-deployment-token")
    cursor = _cursor(app, "acme", 42)
    assert _decode(replica, "acme", cursor) == 42          # every worker and replica agrees
    for bad_app, tenant, bad in [(app, "beta", cursor), (other, "acme", cursor),
                                 (app, "acme", cursor.replace(".", "x.", 1)),
                                 (app, "acme", "aWQ6NDI"), (app, "acme", cursor + "A")]:
        with pytest.raises(ApiError) as err:
            _decode(bad_app, tenant, bad)
        assert err.value.code == "invalid_cursor"
