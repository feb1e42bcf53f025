"""`make up` detaches a healthy suite and records it; `make down` stops exactly those processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from support_shared.suite import migrate_all
from support_shared.testing.helpers import unique_suffix
from support_shared.testing.isolated import remove_isolated

from tests.conftest import suite_env

pytestmark = pytest.mark.e2e


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_then_down_stops_every_recorded_process(tmp_path, database_url, rabbitmq_url):
    suffix = unique_suffix()
    env = suite_env(suffix, database_url, rabbitmq_url)
    env.pop("INTERNAL_API_TOKEN")       # as on a fresh clone: `up` makes one
    migrate_all(env)
    var = tmp_path / "var"
    suite = [sys.executable, "-m", "support_shared.suite"]
    try:
        up = subprocess.run([*suite, "up", "--var", str(var)], env=env, capture_output=True,
                            text=True, timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "healthy after" in up.stdout
        assert (var / "dev-api-key").read_text().strip().startswith("tts_")
        token = var / "internal-token"
        assert len(token.read_text().strip()) >= 32 and token.stat().st_mode & 0o077 == 0
        internal = f"http://127.0.0.1:{env['TICKET_SERVICE_PORT']}/internal/tenants"
        assert requests.get(internal, timeout=5).status_code == 401
        recorded = json.loads((var / "run" / "suite.json").read_text())
        assert len(recorded) == 16 and all(_alive(p["pid"]) for p in recorded)
        health = requests.get(f"http://127.0.0.1:{env['GATEWAY_PORT']}/api/health", timeout=5)
        assert health.status_code == 200

        again = subprocess.run([*suite, "up", "--var", str(var)], env=env, capture_output=True,
                               text=True, timeout=60)
        assert again.returncode == 1 and "already up" in again.stdout
    finally:
        down = subprocess.run([*suite, "down", "--var", str(var)], env=env, capture_output=True,
                              text=True, timeout=60)
        remove_isolated(env, database_url, suffix)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped 16 processes" in down.stdout
    assert not any(_alive(p["pid"]) for p in recorded)
    assert not (var / "run" / "suite.json").exists()
