"""``api-gateway web`` really serves: gunicorn loads the factory and forwards to a service."""
import os
import shutil
import signal
import subprocess
import sys

import pytest
import requests

from support_shared.testing.helpers import wait_until

from ..conftest import INTERNAL_TOKEN


def _ready(url):
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:        # not listening yet, or still booting
        return False


KEY = "tts_guni0001_" + "g" * 43


def test_web_command_serves_the_gateway(services, closed_port_url):
    ticket = services["ticket-service"]
    ticket.on("POST", "/internal/keys/verify", 200,
              {"tenant_id": "acme", "scopes": ["read"], "key_id": 5})
    exe = shutil.which("api-gateway", path=os.path.dirname(sys.executable))
    assert exe, "api-gateway is not installed"
    port = closed_port_url.rsplit(":", 1)[1]
    env = {**os.environ, "GATEWAY_PORT": port, "BIND_HOST": "127.0.0.1", "WEB_WORKERS": "1",
           "LOG_FORMAT": "text", "TICKET_SERVICE_URL": services["ticket-service"].url,
           "INTERNAL_API_TOKEN": INTERNAL_TOKEN, "GATEWAY_RATELIMIT_STORAGE_URL": "memory://"}
    proc = subprocess.Popen([exe, "web"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is not None or _ready(f"{base}/openapi.json"),
                   timeout=20, message="gateway listening")
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited {proc.returncode}: {proc.stderr.read()[-3000:]}")
        resp = requests.get(f"{base}/api/tickets?limit=1", timeout=5,
                            headers={"X-Request-ID": "gunicorn-1",
                                     "Authorization": f"Bearer {KEY}"})
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)

    assert resp.status_code == 200, resp.text
    assert resp.json() == {"service": "ticket-service", "method": "GET", "path": "/api/tickets"}
    assert resp.headers["X-Request-ID"] == "gunicorn-1"
    [verify] = ticket.calls_to("/internal/keys/verify")       # the real HTTP key verifier
    assert verify.body == b'{"key": "%s"}' % KEY.encode()
    assert verify.headers["X-Internal-Token"] == INTERNAL_TOKEN
    assert ticket.calls_to("/api/tickets")[0].headers["X-Tenant-Id"] == "acme"
    assert "Booting worker" in err
