"""Internal ports trust nobody: every internal service (real ``<service> web`` processes) answers
401 without the internal credential or with a wrong one, serves it normally with the right one,
and refuses to start without one unless the insecure development flag is set."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Iterator

import pytest
import requests

from support_shared.db import drop_schema, make_engine
from support_shared.manifest import SUITE
from support_shared.testing.helpers import unique_suffix, wait_until

from .conftest import DATABASE_URL, INTERNAL_TOKEN, Served, _ready, free_port, serve, stop

# One or more paths per service, each a read that would succeed with the credential.
PATHS = {
    "ticket-service": ["/api/tickets", "/api/tickets/1", "/internal/keys", "/internal/tenants"],
    "ai-categorization-service": ["/api/categorizations/1"],
    "routing-service": ["/api/departments", "/api/routing/statistics"],
    "analytics-service": ["/api/dashboard/summary", "/api/analytics/trends"],
    "integration-service": ["/api/sources", "/api/webhooks"],
}
WRITES = {"ticket-service": ("PATCH", "/api/tickets/1"), "routing-service": ("PUT", "/api/route/1"),
          "ai-categorization-service": ("POST", "/api/categorize"),
          "analytics-service": ("POST", "/api/analytics/tickets"),
          "integration-service": ("POST", "/api/ingestions")}
# Answers 200 with the credential (AI: no categorization stored yet, so a JSON 404).
SERVED = {"ticket-service": "/api/tickets", "routing-service": "/api/departments",
          "analytics-service": "/api/dashboard/summary", "integration-service": "/api/sources"}


def service_env(service: str, schema: str, port: int, **extra: str) -> dict[str, str]:
    prefix = SUITE.service(service).env_prefix
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.pop("INSECURE_NO_INTERNAL_TOKEN", None)
    env.update({f"{prefix}PORT": str(port), f"{prefix}DATABASE_URL": DATABASE_URL,
                f"{prefix}DB_SCHEMA": schema, "BIND_HOST": "127.0.0.1", "WEB_WORKERS": "1",
                "LOG_FORMAT": "text", "LOG_LEVEL": "WARNING",
                "INTERNAL_API_TOKEN": INTERNAL_TOKEN, **extra})
    return env


def _exe(service: str) -> str:
    exe = shutil.which(service, path=os.path.dirname(sys.executable))
    assert exe, f"{service} is not installed"
    return exe


@pytest.fixture(scope="module", params=list(PATHS))
def internal_web(request) -> Iterator[tuple[str, Served]]:
    """``<service> web`` on a migrated throwaway schema, with the credential configured."""
    service = request.param
    schema = f"sec_{SUITE.service(service).schema}_{unique_suffix()}"
    port = free_port()
    env = service_env(service, schema, port)
    subprocess.run([_exe(service), "migrate"], env=env, check=True, timeout=180,
                   stdout=subprocess.DEVNULL)
    served = serve(service, port, env, "/health")
    yield service, served
    stop(served)
    engine = make_engine(DATABASE_URL, "public")
    try:
        drop_schema(engine, schema)
    finally:
        engine.dispose()


@pytest.mark.parametrize("sent", [None, "", "wrong", INTERNAL_TOKEN[:-1], INTERNAL_TOKEN + "x"])
def test_internal_services_refuse_calls_without_the_right_credential(internal_web, sent) -> None:
    service, served = internal_web
    headers = {"X-Tenant-ID": "victim"}
    if sent is not None:
        headers["X-Internal-Token"] = sent
    method, write = WRITES[service]
    for verb, path in [*(("GET", p) for p in PATHS[service]), (method, write)]:
        resp = requests.request(verb, served.base + path, headers=headers, json={}, timeout=5)
        assert resp.status_code == 401, (service, verb, path, resp.text)
        assert resp.json()["error"]["code"] == "unauthorized"


def test_the_right_credential_is_served_and_probes_stay_open(internal_web) -> None:
    service, served = internal_web
    good = {"X-Tenant-ID": "sec", "X-Internal-Token": INTERNAL_TOKEN}
    for path in PATHS[service]:
        resp = requests.get(served.base + path, headers=good, timeout=5)
        assert resp.status_code in (200, 404), (path, resp.text)   # past the check: answered
    if service in SERVED:
        assert requests.get(served.base + SERVED[service], headers=good,
                            timeout=5).status_code == 200
    assert requests.get(served.base + "/health", timeout=5).status_code == 200
    assert requests.get(served.base + "/metrics", timeout=5).status_code == 200


def test_a_service_without_a_credential_refuses_to_start() -> None:
    env = service_env("routing-service", "sec_unused", free_port())
    env.pop("INTERNAL_API_TOKEN")
    result = subprocess.run([_exe("routing-service"), "web"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "INTERNAL_API_TOKEN is not set" in result.stderr
    short = subprocess.run([_exe("routing-service"), "web"], capture_output=True, text=True,
                           env={**env, "INTERNAL_API_TOKEN": "short"}, timeout=60)
    assert short.returncode != 0 and "shorter than 16" in short.stderr


def test_the_insecure_flag_starts_unchecked_and_warns(tmp_path) -> None:
    port = free_port()
    schema = f"sec_routing_{unique_suffix()}"
    env = service_env("routing-service", schema, port, INSECURE_NO_INTERNAL_TOKEN="1")
    env.pop("INTERNAL_API_TOKEN")
    subprocess.run([_exe("routing-service"), "migrate"], env=env, check=True, timeout=180,
                   stdout=subprocess.DEVNULL)
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        served = serve_logged("routing-service", port, env, out)
    try:
        resp = requests.get(served.base + "/api/departments", timeout=5)
    finally:
        stop(served)
        engine = make_engine(DATABASE_URL, "public")
        try:
            drop_schema(engine, schema)
        finally:
            engine.dispose()
    assert resp.status_code == 200
    assert "WITHOUT an internal credential" in log.read_text()


def serve_logged(service: str, port: int, env: dict[str, str], out) -> Served:
    """Like ``serve``, with the process's output in ``out``."""
    proc = subprocess.Popen([_exe(service), "web"], env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: proc.poll() is not None or _ready(base + "/health"), timeout=30,
               message=f"{service} listening")
    assert proc.poll() is None, f"{service} web exited {proc.returncode}"
    return Served(base, proc, env)
