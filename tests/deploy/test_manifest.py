"""docker-compose.yml and deploy/k8s agree with the suite manifest (``support_shared.manifest``):
the same processes (``<service CLI> web|relay|consumer|worker``, ticket-service's ``clock``),
a migration per database, and no queue the manifest does not declare; every declared queue has
its consumer deployed."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

import pytest
import yaml

from support_shared.manifest import SUITE

IMAGE = re.compile(r"^(?:\$\{IMAGE_PREFIX:-)?ticket-triage\}?/([a-z-]+):")
COMMANDS = ("web", "relay", "consumer", "clock", "worker")   # clock: ticket-service's SLA clock
# "<service>.<routing key>" for any service and event name, with or without a queue prefix.
QUEUE_LIKE = re.compile(r"\b((?:%s)\.ticket\.[a-z_.]*[a-z])\b" % "|".join(
    re.escape(s.name) for s in SUITE.services))

DECLARED = {(p.service, p.command) for p in SUITE.processes}
MIGRATED = {s.name for s in SUITE.with_schema}


def _image_folder(image: str) -> str:
    match = IMAGE.match(image)
    assert match, f"not a suite image: {image}"
    return match.group(1)


def _processes(workloads: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """(service, command) of each workload (image, command) that runs a process."""
    return {(_image_folder(image), cmd) for image, cmd in workloads if cmd in COMMANDS}


def _migrations(workloads: Iterable[tuple[str, str]]) -> set[str]:
    return {_image_folder(image) for image, cmd in workloads if cmd == "migrate"}


@pytest.fixture(scope="module")
def compose_workloads(root: Path) -> list[tuple[str, str]]:
    services = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    return [(svc["image"], svc["command"]) for svc in services.values() if "command" in svc
            and "ticket-triage" in str(svc.get("image", ""))]


@pytest.fixture(scope="module")
def k8s_workloads(root: Path) -> list[tuple[str, str]]:
    found = []
    for path in sorted((root / "deploy/k8s").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") not in ("Deployment", "Job"):
                continue
            for c in doc["spec"]["template"]["spec"]["containers"]:
                if "ticket-triage/" in c["image"]:
                    (arg,) = c["args"]
                    found.append((c["image"], arg))
    return found


def test_the_manifest_declares_processes_for_every_command():
    assert DECLARED, "the manifest declares no process"
    assert {cmd for _, cmd in DECLARED} == set(COMMANDS)


@pytest.mark.parametrize("where", ["compose", "k8s"])
def test_deployed_processes_are_the_manifests(where, compose_workloads, k8s_workloads):
    workloads = compose_workloads if where == "compose" else k8s_workloads
    deployed = _processes(workloads)
    assert deployed - DECLARED == set(), f"{where} runs processes the manifest does not declare"
    assert DECLARED - deployed == set(), f"{where} misses processes the manifest declares"


@pytest.mark.parametrize("where", ["compose", "k8s"])
def test_each_database_is_migrated_once(where, compose_workloads, k8s_workloads):
    workloads = compose_workloads if where == "compose" else k8s_workloads
    migrations = [_image_folder(image) for image, cmd in workloads if cmd == "migrate"]
    assert sorted(migrations) == sorted(MIGRATED)


def test_every_queue_of_the_manifest_has_its_consumer_deployed(compose_workloads,
                                                                k8s_workloads):
    queues = {(service, c.routing_key) for service, c in SUITE.subscriptions()}
    assert queues, "the manifest declares no subscription"
    for workloads in (compose_workloads, k8s_workloads):
        consuming = {service for service, cmd in _processes(workloads) if cmd == "consumer"}
        assert {s for s, _ in queues} <= consuming


def test_deployment_files_name_no_queue_the_manifest_does_not(root: Path):
    declared = set(SUITE.queues())
    files = [root / "docker-compose.yml", *sorted((root / "deploy").rglob("*.yaml"))]
    named = {(path.relative_to(root).as_posix(), q) for path in files
             for q in QUEUE_LIKE.findall(path.read_text())}
    assert {(f, q) for f, q in named if q.removesuffix(".dlq") not in declared} == set()


@pytest.mark.parametrize("mutation", ["extra", "missing"])
def test_the_process_check_sees_a_difference(mutation: str, compose_workloads: Any):
    """The comparison above can fail: one process more or one less than the manifest."""
    changed = list(compose_workloads)
    if mutation == "extra":
        changed.append(("ticket-triage/routing-service:latest", "relay2"))
        changed.append(("ticket-triage/analytics-service:latest", "relay"))
    else:
        changed = [w for w in changed if w[1] != "relay" or "ticket-service" not in w[0]]
    assert _processes(changed) != DECLARED
