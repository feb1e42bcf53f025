"""Back-pressure answers: a full connection pool or a slow writer is a 503, never a 500."""
from flask import Flask
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from support_shared.group_commit import GroupCommitTimeout
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


def test_a_group_commit_timeout_is_503_with_retry_after():
    resp = _app(GroupCommitTimeout("no answer")).test_client().get("/boom")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "1"
