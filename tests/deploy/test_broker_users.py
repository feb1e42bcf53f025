"""compose and k8s give every process its service's own RabbitMQ user (least privilege);
only the migrate jobs get the admin user. The users come from the shipped definitions file,
which shared/tests/unit/test_broker_permissions.py checks against the suite manifest."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from support_shared.manifest import SUITE
from tests.deploy.conftest import MIGRATED, PROCESSES
from tests.deploy.test_deploy_files import interpolate


def _user(url: str) -> str:
    return urlsplit(interpolate(url)).username or ""


def test_compose_processes_connect_as_their_services_user(root: Path) -> None:
    services = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    for name, (service, _command) in PROCESSES.items():
        env = services[name]["environment"]
        assert "RABBITMQ_ADMIN_URL" not in env, name
        if service == "api-gateway":
            assert _user(env["RABBITMQ_URL"]) == "operator"
            continue
        assert env["RABBITMQ_DECLARE"] == "false", name
        assert "RABBITMQ_URL" not in env, name
        prefix = SUITE.service(service).env_prefix
        assert _user(env[f"{prefix}RABBITMQ_URL"]) == service, name
    for service in MIGRATED:
        env = services[f"migrate-{service}"]["environment"]
        assert _user(env["RABBITMQ_ADMIN_URL"]) == "admin"
    rabbit = services["rabbitmq"]
    assert "environment" not in rabbit            # no RABBITMQ_DEFAULT_USER: definitions only
    mounts = {v.split(":")[1] for v in rabbit["volumes"]}
    assert {"/etc/rabbitmq/definitions.json", "/etc/rabbitmq/conf.d/20-ticket-triage.conf"} <= mounts
    users = {u["name"] for u in json.loads(
        (root / "deploy/rabbitmq/definitions.json").read_text())["users"]}
    assert "guest" not in users and {s for s, _ in PROCESSES.values()} - {"api-gateway"} <= users


def test_k8s_processes_connect_as_their_services_user(root: Path) -> None:
    base = root / "deploy/k8s/base"
    for path in sorted(base.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc["kind"] not in ("Deployment", "Job"):
                continue
            (c,) = doc["spec"]["template"]["spec"]["containers"]
            keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in c.get("env", [])}
            rabbit = {k for k in keys if "RABBITMQ" in k}
            service = doc["metadata"]["labels"]["app.kubernetes.io/name"]
            if doc["kind"] == "Job":
                assert "RABBITMQ_ADMIN_URL" in rabbit, doc["metadata"]["name"]
            elif service == "api-gateway":
                assert rabbit == {"RABBITMQ_URL", "RABBITMQ_MANAGEMENT_URL"}
            elif doc["metadata"]["labels"]["app.kubernetes.io/component"] == "clock":
                assert rabbit == set()        # the SLA clock writes the outbox, not the broker
            else:
                prefix = SUITE.service(service).env_prefix
                assert rabbit - {f"{prefix}RABBITMQ_MANAGEMENT_URL"} == {f"{prefix}RABBITMQ_URL"}
    config = yaml.safe_load((base / "config.yaml").read_text())["data"]
    assert config["RABBITMQ_DECLARE"] == "false" and config["METRICS_PORT"] == "9100"
