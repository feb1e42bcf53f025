"""Monitoring as shipped: Prometheus config and alert rules (checked and unit-tested by promtool),
the Grafana dashboard, and every metric they use exported by the suite's own code."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from tests.deploy.conftest import PROCESSES

PROMETHEUS = Path("deploy/prometheus")
DASHBOARD = Path("deploy/grafana/ticket-triage.json")
# PromQL words that are not metric names (functions are followed by "(" and dropped anyway).
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "le", "inf", "nan"}
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def promtool(require_tool: Callable[[str], str], root: Path, *args: str) -> str:
    result = subprocess.run([require_tool("promtool"), *args], cwd=root, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_alert_rules_are_valid(root: Path, require_tool: Callable[[str], str]) -> None:
    out = promtool(require_tool, root, "check", "rules", str(PROMETHEUS / "alerts.yaml"))
    assert "SUCCESS: 9 rules found" in out


def test_alert_rules_pass_their_unit_tests(root: Path, require_tool: Callable[[str], str]) -> None:
    for tests in sorted((root / PROMETHEUS / "tests").glob("*.yaml")):
        assert "SUCCESS" in promtool(require_tool, root, "test", "rules",
                                     str(tests.relative_to(root)))


def test_prometheus_config_is_valid(root: Path, require_tool: Callable[[str], str]) -> None:
    promtool(require_tool, root, "check", "config", "--syntax-only",
             str(PROMETHEUS / "prometheus.yml"))


def test_every_alert_named_in_the_issue_exists(root: Path) -> None:
    rules = yaml.safe_load((root / PROMETHEUS / "alerts.yaml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {"DeadLettersPresent", "OutboxBacklogOld", "QueueWithoutConsumers",
            "CircuitBreakerOpen", "HighServerErrorRate", "PipelineSlow"} <= names
    tested = (root / PROMETHEUS / "tests" / "alerts_test.yaml").read_text()
    assert [n for n in sorted(names) if f"alertname: {n}" not in tested] == []


def test_compose_prometheus_scrapes_every_process(root: Path) -> None:
    config = yaml.safe_load((root / PROMETHEUS / "prometheus.yml").read_text())
    targets: dict[str, int] = {}
    for job in config["scrape_configs"]:
        for sd in job["dns_sd_configs"]:
            for name in sd["names"]:
                targets[name] = sd["port"]
    assert set(targets) == set(PROCESSES), "one scrape target per compose process"
    for name, (_service, command) in PROCESSES.items():
        assert (targets[name] == 9100) == (command != "web"), name
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    (gateway_job,) = [j for j in config["scrape_configs"] if j["job_name"] == "api-gateway"]
    assert gateway_job["authorization"]["type"] == "Bearer"   # /metrics is not open there
    env = compose["x-common-env"]
    assert str(env["METRICS_PORT"]) == "9100"


def exported_metric_names() -> set[str]:
    """Every metric name the suite's processes expose, from their own exposition."""
    from analytics_service.queue_depths import QueueCollector
    from support_shared import breaker, metrics  # noqa: F401 - registers every metric

    class Depths:
        def snapshot(self) -> dict[str, Any]:
            queue = {"name": "q", "service": "s", "messages": 1, "consumers": 1,
                     "dead_letters": 1}
            return {"available": True, "queues": [queue], "unroutable": {"messages": 0}}

    registry = CollectorRegistry()
    registry.register(metrics.OutboxCollector(
        lambda: metrics.BacklogStatus(1, 1.0, 0), errors=(OSError,)))
    registry.register(QueueCollector(Depths()))  # type: ignore[arg-type]
    text = (generate_latest(registry) + generate_latest()).decode()
    return set(re.findall(r"^# TYPE (\w+) ", text, re.M))


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', "", expr)                  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)                # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)               # ranges
    words = set(re.findall(r"\b([a-zA-Z_][a-zA-Z0-9_]*)\b(?!\s*\()", expr))
    return {w for w in words if w.lower() not in KEYWORDS and not w[0].isdigit()}


def used_metrics(root: Path) -> dict[str, set[str]]:
    rules = yaml.safe_load((root / PROMETHEUS / "alerts.yaml").read_text())
    used = {r["alert"]: metric_names(r["expr"]) for g in rules["groups"] for r in g["rules"]}
    dashboard = json.loads((root / DASHBOARD).read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            used[f"{panel['title']} {target['refId']}"] = metric_names(target["expr"])
    return used


def test_every_metric_of_the_alerts_and_the_dashboard_is_exported(root: Path) -> None:
    exported = exported_metric_names()
    known = exported | {n + s for n in exported for s in SUFFIXES} | {"up"}
    unknown = {where: names - known for where, names in used_metrics(root).items()
               if names - known}
    assert unknown == {}
    assert {"queue_dead_letters", "circuit_breaker_open", "ticket_pipeline_seconds",
            "outbox_oldest_unpublished_age_seconds", "queue_consumers"} <= exported


def test_the_metric_check_can_fail() -> None:
    assert metric_names('sum by (job) (rate(nope_total{status=~"5.."}[5m])) > 0') == {"nope_total"}


def test_grafana_dashboard_shows_queues_outbox_throughput_latency_and_breakers(root: Path) -> None:
    dashboard = json.loads((root / DASHBOARD).read_text())
    assert dashboard["uid"] == "ticket-triage" and dashboard["schemaVersion"] >= 36
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"])
    for metric in ("queue_messages", "outbox_oldest_unpublished_age_seconds",
                   "events_published_total", "events_consumed_total",
                   "ticket_pipeline_seconds_bucket", "http_request_duration_seconds_bucket",
                   "circuit_breaker_open"):
        assert metric in exprs, metric
    for p in panels:
        assert p["datasource"]["uid"] == "prometheus" and p["targets"], p["title"]
    datasource = yaml.safe_load(
        (root / "deploy/grafana/provisioning/datasources/prometheus.yaml").read_text())
    assert datasource["datasources"][0]["uid"] == "prometheus"


def test_k8s_dev_overlay_loads_the_shipped_broker_definitions(root: Path) -> None:
    shipped = (root / "deploy/rabbitmq/definitions.json").read_text()
    assert (root / "deploy/k8s/overlays/dev/rabbitmq-definitions.json").read_text() == shipped
    conf = (root / "deploy/rabbitmq/20-ticket-triage.conf").read_text()
    assert (root / "deploy/k8s/overlays/dev/rabbitmq-20-ticket-triage.conf").read_text() == conf
    assert "loopback_users.guest = true" in conf and "load_definitions" in conf
