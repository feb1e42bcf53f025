"""The one Dockerfile: what it copies exists for every service, multi-stage, non-root, a
role-aware healthcheck; docker-compose.yml builds every service's image from it."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from support_shared.manifest import SUITE

IMAGES = [s.name for s in SUITE.services]   # one image per service folder
# Build arguments beyond SERVICE and PORT that an image needs.
EXTRA_ARGS = {
    "ai-categorization-service": {"SYSTEM_PACKAGES": "libgomp1"},   # lightgbm's OpenMP runtime
    "api-gateway": {"HEALTH_PATH": "/api/health"},
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


@pytest.fixture(scope="module")
def steps(root: Path) -> list[tuple[str, str]]:
    return instructions(root / "Dockerfile")


@pytest.fixture(scope="module")
def builds(root: Path) -> dict[str, dict[str, Any]]:
    """Image name -> its compose ``build``, for every compose service that builds one."""
    services = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    found: dict[str, dict[str, Any]] = {}
    for name, svc in services.items():
        if "build" in svc:
            image = svc["image"].split("/")[-1].split(":")[0]
            assert found.setdefault(image, svc["build"]) == svc["build"], name
    return found


@pytest.fixture(params=IMAGES)
def service(request: pytest.FixtureRequest) -> str:
    return request.param


def test_the_service_folders_have_no_dockerfile_of_their_own(root: Path) -> None:
    assert [f for f in IMAGES if (root / f / "Dockerfile").exists()] == []


def test_every_copied_path_exists_and_is_in_the_build_context(
        root: Path, steps: list[tuple[str, str]], service: str) -> None:
    ignored = dockerignored(root)
    copies = [args.replace("${SERVICE}", service).split() for op, args in steps if op == "COPY"]
    local = [a for a in copies if not any(x.startswith("--from") for x in a)]
    assert local, "nothing copied from the context"
    for args in local:
        for source in [x for x in args[:-1] if not x.startswith("--")]:
            assert (root / source).exists(), f"the Dockerfile copies missing {source}"
            assert source.rstrip("/").split("/")[0] not in ignored, f"{source} is dockerignored"
    assert {"constraints.txt", "shared/", f"{service}/"} <= {a[0] for a in local}


def test_multi_stage_non_root_with_healthcheck(steps: list[tuple[str, str]]) -> None:
    froms = [args for op, args in steps if op == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS builder"), froms
    runtime = final_stage(steps)
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in runtime
    users = [args for op, args in runtime if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), users
    assert [op for op, _ in runtime].count("HEALTHCHECK") == 1
    install = [args for op, args in steps if op == "RUN" and "pip install" in args]
    assert install == ["/opt/venv/bin/pip install -c constraints.txt ./shared ./${SERVICE}"]
    base = [args for op, args in steps if op == "ARG" and args.startswith("PYTHON_IMAGE=")]
    assert base == ["PYTHON_IMAGE=python:3.11-slim"]


def test_entrypoint_is_the_console_script_and_the_port_a_build_arg(
        root: Path, steps: list[tuple[str, str]], service: str) -> None:
    runtime = final_stage(steps)
    last = dict(runtime)
    scripts = tomllib.loads((root / service / "pyproject.toml").read_text())["project"]["scripts"]
    assert service in scripts
    assert json.loads(last["ENTRYPOINT"]) == ["service-entrypoint"]
    assert ("RUN", 'ln -s "/opt/venv/bin/${SERVICE}" /opt/venv/bin/service-entrypoint') in runtime
    assert json.loads(last["CMD"]) == ["web"]
    assert last["EXPOSE"] == "${PORT}"
    assert "SERVICE=${SERVICE}" in last["ENV"] and "BIND_HOST=0.0.0.0" in last["ENV"]


def test_compose_builds_every_service_from_the_one_dockerfile(
        builds: dict[str, dict[str, Any]]) -> None:
    assert set(builds) == set(IMAGES)
    for service in SUITE.services:
        args = {"SERVICE": service.name, "PORT": str(service.port),
                **EXTRA_ARGS.get(service.name, {})}
        assert builds[service.name] == {"context": ".", "dockerfile": "Dockerfile",
                                        "args": args}, service.name


def healthcheck_code(steps: list[tuple[str, str]]) -> str:
    args = dict(final_stage(steps))["HEALTHCHECK"]
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
        steps: list[tuple[str, str]], service: str, tmp_path: Path,
        health_server: HTTPServer) -> None:
    code = healthcheck_code(steps)
    assert "/proc/1/cmdline" in code and "/proc/1/stat" in code
    path = EXTRA_ARGS.get(service, {}).get("HEALTH_PATH", "/health")
    port_variable = f"{SUITE.service(service).env_prefix}PORT"
    env = {"SERVICE": service, "HEALTH_PATH": path,
           port_variable: str(health_server.server_address[1])}
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
