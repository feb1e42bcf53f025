"""The Dockerfiles: what they copy exists, multi-stage, non-root, a role-aware healthcheck."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Iterator

import pytest

# service folder -> (port variable, port, health path)
IMAGES = {
    "ticket-service": ("TICKET_SERVICE_PORT", 5001, "/health"),
    "ai-categorization-service": ("AI_SERVICE_PORT", 5002, "/health"),
    "routing-service": ("ROUTING_SERVICE_PORT", 5003, "/health"),
    "analytics-service": ("ANALYTICS_SERVICE_PORT", 5004, "/health"),
    "api-gateway": ("GATEWAY_PORT", 5000, "/api/health"),
}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#"):  # comments go, even inside a continued line
            continue
        if line.endswith("\\"):
            current += line[:-1]
            continue
        current += line
        if current.strip():
            logical.append(current.strip())
        current = ""
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in logical]


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def dockerignored(root: Path) -> set[str]:
    lines = (root / ".dockerignore").read_text().splitlines()
    return {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}


@pytest.fixture(params=sorted(IMAGES))
def service(request: pytest.FixtureRequest) -> str:
    return request.param


def test_every_copied_path_exists_and_is_in_the_build_context(root: Path, service: str) -> None:
    steps = instructions(root / service / "Dockerfile")
    ignored = dockerignored(root)
    copies = [args.split() for op, args in steps if op == "COPY"]
    local = [a for a in copies if not any(x.startswith("--from") for x in a)]
    assert local, "nothing copied from the context"
    for args in local:
        for source in [x for x in args[:-1] if not x.startswith("--")]:
            assert (root / source).exists(), f"{service}/Dockerfile copies missing {source}"
            assert source.rstrip("/").split("/")[0] not in ignored, f"{source} is dockerignored"
    assert {"constraints.txt", "shared/", f"{service}/"} <= {a[0] for a in local}


def test_multi_stage_non_root_with_healthcheck(root: Path, service: str) -> None:
    steps = instructions(root / service / "Dockerfile")
    froms = [args for op, args in steps if op == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS builder"), froms
    runtime = final_stage(steps)
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in runtime
    users = [args for op, args in runtime if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), users
    assert [op for op, _ in runtime].count("HEALTHCHECK") == 1
    install = [args for op, args in steps if op == "RUN" and "pip install" in args]
    assert install == [f"/opt/venv/bin/pip install -c constraints.txt ./shared ./{service}"]
    base = [args for op, args in steps if op == "ARG" and args.startswith("PYTHON_IMAGE=")]
    assert base == ["PYTHON_IMAGE=python:3.11-slim"]


def test_entrypoint_is_the_console_script_and_the_port_is_the_service_port(
        root: Path, service: str) -> None:
    steps = instructions(root / service / "Dockerfile")
    runtime = dict(final_stage(steps))
    scripts = tomllib.loads((root / service / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(runtime["ENTRYPOINT"]) == [service] and service in scripts
    assert json.loads(runtime["CMD"]) == ["web"]
    var, port, _ = IMAGES[service]
    assert runtime["EXPOSE"] == str(port)
    assert f"{var}={port}" in runtime["ENV"] and "BIND_HOST=0.0.0.0" in runtime["ENV"]


def healthcheck_code(root: Path, service: str) -> str:
    args = dict(final_stage(instructions(root / service / "Dockerfile")))["HEALTHCHECK"]
    command = json.loads(args.split(" CMD ", 1)[1])
    assert command[:2] == ["python", "-c"]
    return command[2]


class _Health(BaseHTTPRequestHandler):
    status = 200
    path_wanted = "/health"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(self.status if self.path == self.path_wanted else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def health_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), type("Health", (_Health,), {}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_check(code: str, proc: Path, cmdline: bytes, state: str, env: dict[str, str]) -> int:
    """Run the image's healthcheck against a fake /proc/1 (its cmdline and stat)."""
    proc.mkdir(exist_ok=True)
    (proc / "cmdline").write_bytes(cmdline)
    (proc / "stat").write_text(f"1 (python) {state} 0 1 1 0 -1")
    code = code.replace("/proc/1/", f"{proc}/")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          timeout=20).returncode


def test_healthcheck_asks_the_web_process_and_only_watches_workers(
        root: Path, service: str, tmp_path: Path, health_server: HTTPServer) -> None:
    code = healthcheck_code(root, service)
    assert "/proc/1/cmdline" in code and "/proc/1/stat" in code
    var, _, path = IMAGES[service]
    env = {var: str(health_server.server_address[1])}
    handler = health_server.RequestHandlerClass
    handler.path_wanted = path
    web = b"/opt/venv/bin/python\0/opt/venv/bin/gunicorn\0--bind\x000.0.0.0:1\0"
    worker = f"/opt/venv/bin/python\0/opt/venv/bin/{service}\0consumer\0".encode()
    proc = tmp_path / "proc1"
    assert run_check(code, proc, web, "S", env) == 0
    handler.status = 503
    assert run_check(code, proc, web, "S", env) != 0
    assert run_check(code, proc, worker, "S", env) == 0
    assert run_check(code, proc, worker, "T", env) != 0
    assert run_check(code, proc, worker, "Z", env) != 0
