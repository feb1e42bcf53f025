"""Answers before and around a handler: back-pressure is a 503 and NUL in a URL a 400, never a 500."""
from flask import Flask
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from support_shared.web import init_app


def _app(error):
    app = Flask(__name__)
    init_app(app)

    @app.get("/boom")
    def boom():
        raise error

    return app


def test_an_exhausted_connection_pool_is_503_with_retry_after():
    resp = _app(PoolTimeoutError("QueuePool limit of size 9 overflow 9 reached")).test_client() \
        .get("/boom")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "1"
    assert resp.get_json()["error"]["code"] == "service_unavailable"


def test_nul_in_a_path_or_query_is_400_before_any_handler():
    app = _app(AssertionError("the handler must not run"))

    @app.get("/items/<name>")
    def item(name):
        raise AssertionError("the handler must not run")

    client = app.test_client()
    for url in ("/items/a%00b", "/boom?q=a%00b"):
        resp = client.get(url)
        assert resp.status_code == 400, url
        assert resp.get_json()["error"]["code"] == "validation_error"
