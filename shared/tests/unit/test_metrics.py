"""Request metrics by route template, the scrape-time outbox gauges, multiprocess aggregation."""
import logging
import os
import subprocess
import sys
import textwrap

import pytest
from flask import Flask
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from support_shared import metrics
from support_shared.logging import _ContextFilter, correlation_id
from support_shared.web import METRICS_EXTENSION, init_app


def _app() -> Flask:
    app = Flask("metrics_test")
    init_app(app)

    @app.get("/things/<int:thing_id>")
    def thing(thing_id: int):
        return {"id": thing_id}

    @app.post("/things")
    def boom():
        raise RuntimeError("bug")

    return app


def _count(route: str, status: str, method: str = "GET") -> float:
    value = REGISTRY.get_sample_value(
        "http_requests_total", {"method": method, "route": route, "status": status})
    return value or 0.0


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_requests_are_counted_by_route_template_and_status():
    client = _app().test_client()
    before_ok = _count("/things/<int:thing_id>", "200")
    before_missing = _count(metrics.UNMATCHED_ROUTE, "404")
    before_error = _count("/things", "500", "POST")

    for thing_id in (1, 2, 3):
        assert client.get(f"/things/{thing_id}").status_code == 200
    assert client.get("/no/such/path/42").status_code == 404
    assert client.post("/things").status_code == 500

    assert _count("/things/<int:thing_id>", "200") == before_ok + 3
    assert _count(metrics.UNMATCHED_ROUTE, "404") == before_missing + 1
    assert _count("/things", "500", "POST") == before_error + 1
    for raw in ("/things/1", "/no/such/path/42"):   # no raw paths: no cardinality blow-up
        assert REGISTRY.get_sample_value(
            "http_requests_total", {"method": "GET", "route": raw, "status": "200"}) is None


def test_metrics_endpoint_serves_the_text_format_with_latency_and_in_progress():
    client = _app().test_client()
    client.get("/things/7")
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.content_type.startswith("text/plain; version=0.0.4")
    samples = _samples(resp.get_data(as_text=True))
    key = frozenset({"method": "GET", "route": "/things/<int:thing_id>", "status": "200"}.items())
    assert samples[("http_request_duration_seconds_count", key)] >= 1
    in_progress = frozenset({"method": "GET", "route": "/metrics"}.items())
    assert samples[("http_requests_in_progress", in_progress)] == 1   # the scrape itself
    assert not any(name.endswith("_created") for name, _ in samples)


class _Reads:
    def __init__(self, *results):
        self.results = list(results)
        self.calls = 0

    def __call__(self) -> metrics.BacklogStatus:
        self.calls += 1
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


def test_outbox_gauges_are_read_at_scrape_time_and_cached():
    reads = _Reads(metrics.BacklogStatus(7, 12.5, 1), metrics.BacklogStatus(0, None, 0))
    app = _app()
    app.extensions[METRICS_EXTENSION].append(
        metrics.OutboxCollector(reads, errors=(ConnectionError,), ttl_s=60))
    client = app.test_client()
    first = _samples(client.get("/metrics").get_data(as_text=True))
    second = _samples(client.get("/metrics").get_data(as_text=True))
    assert first[("outbox_backlog", frozenset())] == 7
    assert first[("outbox_oldest_unpublished_age_seconds", frozenset())] == 12.5
    assert first[("outbox_failing_rows", frozenset())] == 1
    assert second[("outbox_backlog", frozenset())] == 7           # cached within the ttl
    assert reads.calls == 1


def test_outbox_gauges_are_left_out_while_the_database_is_down(caplog):
    reads = _Reads(ConnectionError("db down"), metrics.BacklogStatus(3, 1.0, 0))
    collector = metrics.OutboxCollector(reads, errors=(ConnectionError,), ttl_s=0)
    with caplog.at_level(logging.WARNING):
        assert list(collector.collect()) == []
    assert "outbox gauges unavailable" in caplog.text
    assert [m.samples[0].value for m in collector.collect()] == [3, 1.0, 0]


def test_outbox_collector_lets_unexpected_errors_through():
    collector = metrics.OutboxCollector(_Reads(KeyError("bug")), errors=(ConnectionError,))
    with pytest.raises(KeyError):
        list(collector.collect())


def test_worker_endpoint_is_off_unless_metrics_port_is_set(monkeypatch):
    monkeypatch.delenv(metrics.METRICS_PORT_ENV, raising=False)
    assert metrics.metrics_port() is None
    assert metrics.start_worker_endpoint("127.0.0.1") is None
    monkeypatch.setenv(metrics.METRICS_PORT_ENV, "0")
    assert metrics.metrics_port() is None
    monkeypatch.setenv(metrics.METRICS_PORT_ENV, "9105")
    assert metrics.metrics_port() == 9105
    monkeypatch.setenv(metrics.METRICS_PORT_ENV, "70000")
    with pytest.raises(ValueError):
        metrics.metrics_port()


def test_prepare_multiprocess_dir_starts_empty(tmp_path):
    path = metrics.prepare_multiprocess_dir("svc", 5001, base=str(tmp_path))
    assert path == tmp_path / "svc-5001"
    (path / "counter_123.db").write_bytes(b"stale")
    again = metrics.prepare_multiprocess_dir("svc", 5001, base=str(tmp_path))
    assert again == path and list(path.iterdir()) == []


# Run in a fresh interpreter: prometheus_client picks multiprocess storage at import time.
# The parent builds the app, forks two "workers" that serve requests and exit (like gunicorn
# workers), marks them dead as gunicorn's child_exit does, then scrapes once.
_FORKING_SERVER = textwrap.dedent("""
    import os, sys
    from flask import Flask
    from support_shared.metrics import mark_process_dead
    from support_shared.web import init_app

    app = Flask("forked")
    init_app(app)
    app.add_url_rule("/ping/<int:n>", "ping", lambda n: {"n": n})

    pids = []
    for requests in (3, 4):
        pid = os.fork()
        if pid == 0:
            client = app.test_client()
            for n in range(requests):
                assert client.get(f"/ping/{n}").status_code == 200
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        assert os.waitpid(pid, 0)[1] == 0
        mark_process_dead(pid)
    sys.stdout.write(app.test_client().get("/metrics").get_data(as_text=True))
    sys.stdout.write("\\nPIDS " + " ".join(map(str, pids)))
""")


def test_one_scrape_adds_up_every_forked_worker(tmp_path):
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", _FORKING_SERVER], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text, _, pids = done.stdout.rpartition("\nPIDS ")
    samples = _samples(text)
    ping = frozenset({"method": "GET", "route": "/ping/<int:n>", "status": "200"}.items())
    assert samples[("http_requests_total", ping)] == 7              # 3 + 4 from two processes
    assert samples[("http_request_duration_seconds_count", ping)] == 7
    files = {p.name for p in tmp_path.iterdir()}
    for pid in pids.split():
        assert f"counter_{pid}.db" in files                          # each worker wrote its own
        assert f"gauge_livesum_{pid}.db" not in files                # dropped when marked dead
    in_progress = frozenset({"method": "GET", "route": "/ping/<int:n>"}.items())
    assert ("http_requests_in_progress", in_progress) not in samples   # no ghost in-flight requests


def test_a_record_keeps_its_own_correlation_id_else_takes_the_context():
    flt = _ContextFilter("svc")
    own = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    own.correlation_id = "row-id"
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    token = correlation_id.set("ctx-id")
    try:
        flt.filter(own)
        flt.filter(plain)
    finally:
        correlation_id.reset(token)
    assert (own.correlation_id, plain.correlation_id) == ("row-id", "ctx-id")
    assert plain.service == "svc"
