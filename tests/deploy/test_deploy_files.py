"""docker-compose.yml (validated by docker-compose itself, then read as data) and .env.example."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from tests.deploy.conftest import MIGRATED, PROCESSES

INFRA = {"postgres", "rabbitmq", "redis", "prometheus", "grafana"}
PUBLISHED = {"api-gateway": "5000", "rabbitmq": "15672", "grafana": "3000"}  # -> container port
CONDITIONS = {"service_healthy", "service_completed_successfully", "service_started"}
VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)(?::?-([^}]*))?\}")
REQUIRED = re.compile(r"\$\{([A-Za-z0-9_]+):\?[^}]*\}")


def interpolate(value: Any) -> Any:
    """What compose makes of a value when no variable is set: each ${NAME:-default} -> default."""
    return VARIABLE.sub(lambda m: m.group(2) or "", value) if isinstance(value, str) else value


def env_file(path: Path, *, commented: bool) -> dict[str, str]:
    """KEY=value lines of an env file; with ``commented``, also the ``# KEY=value`` ones."""
    pattern = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
    found = {}
    for line in path.read_text().splitlines():
        m = pattern.match(line.strip())
        if m and (commented or not m.group(1)):
            found[m.group(2)] = m.group(3)
    return found


@pytest.fixture(scope="module")
def compose(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.mark.parametrize("use_example", [False, True], ids=["defaults", "env-example"])
def test_compose_file_is_valid_for_docker_compose(root: Path, require_tool: Callable[[str], str],
                                                  use_example: bool, tmp_path: Path) -> None:
    binary = require_tool("docker-compose")
    # Never a developer's .env: an empty file (the compose file's own defaults) or the example.
    values = root / ".env.example" if use_example else tmp_path / "empty.env"
    if not use_example:
        values.write_text("")
    env_args = ("--env-file", str(values))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    env["INTERNAL_API_TOKEN"] = "compose-test-internal-token"    # required: no default
    result = subprocess.run([binary, "-f", "docker-compose.yml", *env_args, "config", "-q"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "WARN" not in result.stderr, result.stderr  # e.g. a variable without a default
    listed = subprocess.run([binary, "-f", "docker-compose.yml", *env_args, "config", "--services"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert set(listed.stdout.split()) == set(PROCESSES) | INFRA | {f"migrate-{s}" for s in MIGRATED}


def test_compose_refuses_to_start_without_the_internal_credential(
        root: Path, require_tool: Callable[[str], str]) -> None:
    binary = require_tool("docker-compose")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COMPOSE_", "DOCKER_")) and k != "INTERNAL_API_TOKEN"}
    result = subprocess.run([binary, "-f", "docker-compose.yml", "--env-file",
                             str(root / ".env.example"), "config", "-q"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "set INTERNAL_API_TOKEN" in result.stderr


def test_no_service_sets_container_name(services: dict[str, dict[str, Any]]) -> None:
    assert [name for name, svc in services.items() if "container_name" in svc] == []


def test_only_the_gateway_the_rabbitmq_console_and_grafana_are_published(
        services: dict[str, dict[str, Any]]) -> None:
    published = {}
    for name, svc in services.items():
        assert svc.get("network_mode") != "host", name
        for port in svc.get("ports", []):
            published[name] = str(interpolate(port)).rsplit(":", 1)[-1]
    assert published == PUBLISHED


def test_every_process_runs_its_service_image(services: dict[str, dict[str, Any]]) -> None:
    for name, (folder, command) in PROCESSES.items():
        svc = services[name]
        assert svc["command"] == command, name
        assert interpolate(svc["image"]) == f"ticket-triage/{folder}:latest", name
        assert svc["build"]["dockerfile"] == "Dockerfile", name
        assert svc["build"]["args"]["SERVICE"] == folder, name
        assert svc["restart"] == "unless-stopped", name


def test_migrations_run_once_before_the_processes_of_their_service(
        services: dict[str, dict[str, Any]]) -> None:
    for folder in MIGRATED:
        job = services[f"migrate-{folder}"]
        assert job["command"] == "migrate" and job["restart"] == "no"
        assert job["healthcheck"] == {"disable": True}
        # RabbitMQ too: migrate declares the exchanges and queues, as the broker's admin user.
        assert job["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                     "rabbitmq": {"condition": "service_healthy"}}
        assert job["environment"]["RABBITMQ_ADMIN_URL"].startswith("amqp://admin:")
        for name, (image, _) in PROCESSES.items():
            if image == folder:
                deps = services[name]["depends_on"]
                assert deps[f"migrate-{folder}"] == {"condition": "service_completed_successfully"}
                assert deps["postgres"] == deps["rabbitmq"] == {"condition": "service_healthy"}


def test_dependencies_wait_for_a_condition_the_target_can_reach(
        root: Path, services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        for target, dep in svc.get("depends_on", {}).items():
            assert dep["condition"] in CONDITIONS, (name, target)
            healthcheck = services[target].get("healthcheck", {})
            if dep["condition"] == "service_healthy":
                assert not healthcheck.get("disable"), (name, target)
                if "test" not in healthcheck:  # inherits the image's HEALTHCHECK
                    assert "HEALTHCHECK" in dockerfile_of(root, services[target]), (name, target)
            if dep["condition"] == "service_completed_successfully":
                assert services[target]["restart"] == "no", (name, target)
    gateway_needs = set(services["api-gateway"]["depends_on"])
    # The consumers declare their queues on connect: the first tickets need them.
    wanted = {n for n, (_, cmd) in PROCESSES.items() if cmd in ("web", "consumer")}
    assert wanted - {"api-gateway"} <= gateway_needs


def dockerfile_of(root: Path, svc: dict[str, Any]) -> str:
    return (root / svc["build"]["context"] / svc["build"]["dockerfile"]).read_text()


def test_every_long_running_container_has_a_healthcheck(
        root: Path, services: dict[str, dict[str, Any]]) -> None:
    for name in INFRA:
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    for name in PROCESSES:
        check = services[name]["healthcheck"]
        # No test here: the image's role-aware HEALTHCHECK applies, compose sets its timing.
        assert "test" not in check and not check.get("disable"), name
        assert "HEALTHCHECK" in dockerfile_of(root, services[name]), name
        assert {"interval", "timeout", "retries", "start_period"} <= set(check), name


def test_only_the_edge_is_outside_the_internal_network(compose: dict[str, Any]) -> None:
    assert compose["networks"]["internal"] == {"internal": True}
    outside = {}
    for name, svc in compose["services"].items():
        nets = set(svc["networks"])
        assert "internal" in nets, name
        if nets - {"internal"}:
            outside[name] = nets - {"internal"}
    assert outside == {"rabbitmq": {"public"}, "api-gateway": {"public"}, "grafana": {"public"},
                       "ai-categorization-service": {"egress"}, "ai-consumer": {"egress"},
                       # helpdesks and webhook receivers; the web process resolves their names
                       "integration-service": {"egress"}, "integration-worker": {"egress"}}


def test_compose_defaults_are_the_env_example_values(root: Path) -> None:
    text = (root / "docker-compose.yml").read_text()
    example = env_file(root / ".env.example", commented=False)
    used = {}
    for name, default in VARIABLE.findall(text):
        assert used.setdefault(name, default) == default, f"{name} has two defaults"
    for name in REQUIRED.findall(text):       # no default: .env must set it
        assert used.setdefault(name, "") == ""
    assert used == example, "every variable compose reads is in .env.example, same default"


def test_env_example_documents_every_setting(root: Path, setting_defaults: dict[str, Any]) -> None:
    documented = env_file(root / ".env.example", commented=True)
    missing = sorted(set(setting_defaults) - set(documented))
    assert missing == [], f"settings missing from .env.example: {missing}"
    for env, default in setting_defaults.items():
        expected = "" if default is None else str(default)
        assert documented[env] == expected, f"{env}: .env.example says {documented[env]!r}"
